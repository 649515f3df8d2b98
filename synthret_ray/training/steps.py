"""One loss computation per stage: embed the batch, gather across workers, apply the stage's loss."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from synthret_ray.training.batching import (
    GroupBatch,
    ListwiseBatch,
    PreferenceBatch,
    RerankBatch,
    collate_group,
    collate_listwise,
    collate_preference,
    collate_rerank,
)
from synthret_ray.training.config import TrainConfig
from synthret_ray.training.distributed import gather, world


def collate(cfg: TrainConfig, rows: list[dict]):
    if cfg.stage in ("pairs", "distill"):
        return collate_group(rows, cfg.stage, cfg.loss_name, cfg.group)
    if cfg.stage == "align":
        return collate_preference(rows)
    if cfg.stage == "listwise":
        return collate_listwise(rows, cfg.group)
    return collate_rerank(rows, cfg.group)


# Queries and documents are encoded in separate forward calls: in one call the short queries would be padded
# to the documents' length, doubling the compute (measured with benchmarks/training_speed.py).


def _embed_groups(model: nn.Module, batch: GroupBatch) -> tuple[Tensor, Tensor]:
    """Queries (B, D) and the group tensor (B, M, D); padded slots hold zeros (their label is -1)."""
    queries, docs = model(batch.queries), model(batch.docs)
    slots = batch.slots.to(docs.device).flatten()
    filled = (slots >= 0).nonzero().squeeze(1)
    grouped = docs.new_zeros(slots.numel(), docs.shape[1]).index_put((filled,), docs[slots[filled]])
    return queries, grouped.view(*batch.slots.shape, -1)


def batch_loss(cfg: TrainConfig, model: nn.Module, loss_fn: nn.Module, batch, reference: nn.Module | None) -> Tensor:
    """The loss of one worker's batch, the value that is logged; in-batch negatives span every worker (see
    ``distributed.gather``). Backpropagate ``loss * backward_scale(cfg, batch)``."""
    name = cfg.loss_name
    if isinstance(batch, RerankBatch):
        return loss_fn(model(batch.pairs).view(-1, batch.group_size))
    if isinstance(batch, GroupBatch):
        queries, docs = _embed_groups(model, batch)
        labels = gather(batch.labels.to(queries.device))
        queries, docs = gather(queries), gather(docs)
        if name == "syntriever_distill":
            return loss_fn(queries, docs, labels)
        negatives = docs[:, 1:] if docs.shape[1] > 1 else None
        return loss_fn(queries, docs[:, 0], negatives, labels[:, 1:] == 0)
    if isinstance(batch, ListwiseBatch):
        queries = model(batch.queries)
        docs = model(batch.docs).view(len(batch.queries), -1, queries.shape[1])
        return loss_fn(gather(queries), gather(docs), gather(batch.labels.to(queries.device)))
    assert isinstance(batch, PreferenceBatch)
    b = len(batch.queries)
    queries, candidates = model(batch.queries), model(batch.preferred + batch.rejected)
    preferred, rejected = candidates[:b], candidates[b:]
    if name == "bradley_terry":
        return loss_fn(queries, preferred, rejected)
    keys = gather(batch.query_keys.to(queries.device))
    same_query = keys.unsqueeze(0) == keys.unsqueeze(1)
    reference_scores = None
    if reference is not None:
        with torch.no_grad():
            ref_q, ref_c = reference(batch.queries), reference(batch.preferred + batch.rejected)
            ref_c = torch.cat([gather(ref_c[:b]), gather(ref_c[b:])])
            reference_scores = loss_fn.similarity(gather(ref_q), ref_c)
    return loss_fn(gather(queries), gather(preferred), gather(rejected), reference_scores, same_query)


def backward_scale(cfg: TrainConfig, batch) -> int:
    """What the loss is multiplied by before ``backward``: the world size for losses over gathered embeddings
    (their gradient reaches the parameters only through the local slice, and DDP averages over workers), 1 for
    losses of the worker's own batch (cross-encoder groups, Bradley-Terry). Logged losses stay unscaled, so
    curves agree across worker counts."""
    if isinstance(batch, RerankBatch) or (isinstance(batch, PreferenceBatch) and cfg.loss_name == "bradley_terry"):
        return 1
    return world()[1]
