"""In-batch negatives across workers: 2 gloo processes x batch 2 must give the loss and gradients of batch 4."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from synthret_ray.training.distributed import gather, scale_for_ddp
from synthret_ray.training.losses import InfoNCELoss


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    encoder = torch.nn.Linear(8, 6)
    queries, docs = torch.randn(4, 8), torch.randn(4, 8)
    return encoder, queries, docs


def _worker(rank: int, port: int, out) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    encoder, queries, docs = _setup()
    ddp = torch.nn.parallel.DistributedDataParallel(encoder)
    local = slice(2 * rank, 2 * rank + 2)
    q, d = gather(ddp(queries[local])), gather(ddp(docs[local]))
    assert q.shape == (4, 6)  # each worker sees all 4 queries' documents
    loss = scale_for_ddp(InfoNCELoss(0.5)(q, d))
    loss.backward()
    out[rank] = (loss.item() / 2, encoder.weight.grad.clone())
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_workers_match_one_big_batch():
    encoder, queries, docs = _setup()
    reference = InfoNCELoss(0.5)(encoder(queries), encoder(docs))
    reference.backward()
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_worker, args=(_free_port(), out), nprocs=2, join=True)
        results = dict(out)
    for rank in (0, 1):
        loss, grad = results[rank]
        assert loss == pytest.approx(reference.item(), rel=1e-5)
        assert torch.allclose(grad, encoder.weight.grad, atol=1e-6)
