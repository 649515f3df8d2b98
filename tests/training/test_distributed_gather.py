"""In-batch negatives across workers: 2 gloo processes x batch 2 must give the loss and gradients of one process
on batch 4, for every bi-encoder loss, through the training step itself (collate, gather, backward scale)."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from synthret_ray.training.config import TrainConfig
from synthret_ray.training.loop import build_loss
from synthret_ray.training.steps import backward_scale, batch_loss, collate

QUERIES = ["q0", "q1", "q2", "q3"]
ROWS = {
    "pairs": [{"query": q, "positive": f"p{i}", "negatives": [f"n{i}a", f"n{i}b"]} for i, q in enumerate(QUERIES)],
    "distill": [
        {"query": q, "positives": [f"p{i}", f"s{i}", f"c{i}"], "negatives": [f"n{i}a"]} for i, q in enumerate(QUERIES)
    ],
    "listwise": [
        {"query": q, "documents": [f"p{i}", f"s{i}", f"n{i}a", f"n{i}b"], "labels": [3, 2, 1, 0]}
        for i, q in enumerate(QUERIES)
    ],
    # two rows of one query: partial Plackett-Luce masks the other's candidates
    "align": [
        {"query_id": f"id{i // 2}", "query": q, "preferred": f"p{i}", "rejected": f"n{i}a"}
        for i, q in enumerate(QUERIES)
    ],
}
CASES = [
    ("pairs", "infonce", 0.0),
    ("distill", "syntriever_distill", 0.0),
    ("distill", "infonce", 0.0),
    ("listwise", "wasserstein", 0.0),
    ("listwise", "wasserstein_paired", 0.0),
    ("listwise", "listnet", 0.0),
    ("align", "partial_plackett_luce", 0.5),
]


class TextEncoder(nn.Module):
    """A real trainable encoder over a fixed vocabulary of texts (an embedding table and a projection)."""

    def __init__(self, seed: int):
        super().__init__()
        texts = sorted({t for rows in ROWS.values() for r in rows for t in _texts(r)})
        self.index = {t: i for i, t in enumerate(texts)}
        torch.manual_seed(seed)
        self.table = nn.Embedding(len(texts), 8)
        self.proj = nn.Linear(8, 6)

    def forward(self, texts: list[str], kind: str = "document") -> torch.Tensor:
        return self.proj(self.table(torch.tensor([self.index[t] for t in texts])))


def _texts(row: dict) -> list[str]:
    out = [row["query"]]
    for key in ("positive", "preferred", "rejected"):
        out += [row[key]] if key in row else []
    for key in ("positives", "negatives", "documents"):
        out += row.get(key, [])
    return out


def _config(stage: str, loss: str, regularization: float) -> TrainConfig:
    return TrainConfig(
        stage=stage,
        train_data="unused.parquet",
        loss={"name": loss, "temperature": 0.5, "regularization": regularization},
        group={"max_positives": 3, "max_negatives": 2, "listwise_size": 4},
    )


def _step(stage: str, loss: str, regularization: float, rows: list[dict], wrap) -> tuple[float, list[torch.Tensor]]:
    cfg = _config(stage, loss, regularization)
    encoder = TextEncoder(seed=0)
    model = wrap(encoder)
    reference = TextEncoder(seed=1).requires_grad_(False) if regularization else None
    batch = collate(cfg, rows)
    value = batch_loss(cfg, model, build_loss(cfg), batch, reference)
    (value * backward_scale(cfg, batch)).backward()
    return value.item(), [p.grad.clone() for p in encoder.parameters()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, out) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    for case in CASES:
        rows = ROWS[case[0]][2 * rank : 2 * rank + 2]
        out[(rank, case)] = _step(*case, rows, nn.parallel.DistributedDataParallel)
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_workers_match_one_big_batch_for_every_bi_encoder_loss():
    """Pins that the logged loss is the loss itself (it was multiplied by the number of workers) and that every
    bi-encoder loss, not only InfoNCE without hard negatives, gives one big batch's loss and gradients."""
    # a spawned manager: one forked from pytest (Ray, OpenVINO and vLLM threads loaded) died of SIGSEGV once
    with mp.get_context("spawn").Manager() as manager:
        out = manager.dict()
        mp.spawn(_worker, args=(_free_port(), out), nprocs=2, join=True)
        results = dict(out)
    for case in CASES:
        loss, grads = _step(*case, ROWS[case[0]], lambda m: m)
        for rank in (0, 1):
            worker_loss, worker_grads = results[(rank, case)]
            assert worker_loss == pytest.approx(loss, rel=1e-5), case
            for got, want in zip(worker_grads, grads, strict=True):
                assert torch.allclose(got, want, atol=1e-6), case
