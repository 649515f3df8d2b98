"""One loss computation per stage: embed the batch, gather across workers, apply the stage's loss."""

from __future__ import annotations

import random

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
from synthret_ray.training.masking import equal_text_hidden, text_keys


def collate(cfg: TrainConfig, rows: list[dict], rng: random.Random | None = None):
    """``rng`` draws the members of listwise and reranker groups (a fresh seed per epoch and batch)."""
    if cfg.stage in ("pairs", "distill"):
        return collate_group(rows, cfg.stage, cfg.loss_name, cfg.group)
    if cfg.stage == "align":
        return collate_preference(rows)
    if cfg.stage == "listwise":
        return collate_listwise(rows, cfg.group, rng)
    return collate_rerank(rows, cfg.group, rng)


def group_rng(seed: int, epoch: int, rank: int, index: int) -> random.Random:
    """The same draw for the same batch, so a run resumed mid-epoch trains on the groups it would have seen."""
    return random.Random(f"{seed}:{epoch}:{rank}:{index}")


# Queries and documents are encoded in separate forward calls: in one call the short queries would be padded
# to the documents' length, doubling the compute (measured with benchmarks/training_speed.py).


def _embed_groups(model: nn.Module, batch: GroupBatch) -> tuple[Tensor, Tensor]:
    """Queries (B, D) and the group tensor (B, M, D); padded slots hold zeros (their label is -1)."""
    queries, docs = model(batch.queries, kind="query"), model(batch.docs)
    slots = batch.slots.to(docs.device).flatten()
    filled = (slots >= 0).nonzero().squeeze(1)
    grouped = docs.new_zeros(slots.numel(), docs.shape[1]).index_put((filled,), docs[slots[filled]])
    return queries, grouped.view(*batch.slots.shape, -1)


def batch_loss(cfg: TrainConfig, model: nn.Module, loss_fn: nn.Module, batch, reference: nn.Module | None) -> Tensor:
    """The loss of one worker's batch, the value that is logged; in-batch negatives span every worker (see
    ``distributed.gather``). Backpropagate ``loss * backward_scale(cfg, batch)``."""
    name = cfg.loss_name
    if isinstance(batch, RerankBatch):
        scores = model(batch.pairs).view(-1, batch.group_size)
        return loss_fn(scores, batch.mask.to(scores.device))
    if isinstance(batch, GroupBatch):
        queries, docs = _embed_groups(model, batch)
        labels = gather(batch.labels.to(queries.device))
        keys = gather(_slot_keys(batch).to(queries.device))
        query_keys = gather(text_keys(batch.queries).to(queries.device))
        queries, docs = gather(queries), gather(docs)
        if name == "syntriever_distill":
            return loss_fn(queries, docs, labels, _group_hidden(keys, labels, query_keys, labels == 1))
        negatives = docs[:, 1:] if docs.shape[1] > 1 else None
        hidden = _infonce_hidden(keys, labels, query_keys, with_negatives=negatives is not None)
        return loss_fn(queries, docs[:, 0], negatives, labels[:, 1:] == 0, hidden)
    if isinstance(batch, ListwiseBatch):
        queries = model(batch.queries, kind="query")
        docs = model(batch.docs).view(len(batch.queries), -1, queries.shape[1])
        keys = gather(text_keys(batch.docs).view(len(batch.queries), -1).to(queries.device))
        labels, mask = gather(batch.labels.to(queries.device)), gather(batch.mask.to(queries.device))
        hidden = _group_hidden(keys, labels, gather(text_keys(batch.queries).to(queries.device)), mask)
        hidden |= ~mask.flatten()[None, :]  # padding slots, the row's own included
        return loss_fn(gather(queries), gather(docs), labels, hidden)
    assert isinstance(batch, PreferenceBatch)
    b = len(batch.queries)
    queries, candidates = model(batch.queries, kind="query"), model(batch.preferred + batch.rejected)
    preferred, rejected = candidates[:b], candidates[b:]
    if name == "bradley_terry":
        return loss_fn(queries, preferred, rejected)
    keys = gather(batch.query_keys.to(queries.device))
    same_query = keys.unsqueeze(0) == keys.unsqueeze(1)
    candidate_keys = gather(text_keys(batch.preferred + batch.rejected).view(2, b).T.to(queries.device))  # (B, 2)
    owner = torch.arange(candidate_keys.shape[0], device=queries.device).repeat(2)
    hidden = equal_text_hidden(
        candidate_keys, torch.ones_like(candidate_keys, dtype=torch.bool), candidate_keys.T.flatten(), owner
    )
    reference_scores = None
    if reference is not None:
        with torch.no_grad():
            ref_q, ref_c = reference(batch.queries, kind="query"), reference(batch.preferred + batch.rejected)
            ref_c = torch.cat([gather(ref_c[:b]), gather(ref_c[b:])])
            reference_scores = loss_fn.similarity(gather(ref_q), ref_c)
    return loss_fn(gather(queries), gather(preferred), gather(rejected), reference_scores, same_query, hidden=hidden)


def _slot_keys(batch: GroupBatch) -> Tensor:
    """(B, M) text hash of each group slot (0 for padding, whose label is -1)."""
    keys = text_keys(batch.docs)
    slots = batch.slots
    return torch.where(slots >= 0, keys[slots.clamp(min=0)], torch.zeros_like(slots))


def _group_hidden(keys: Tensor, labels: Tensor, query_keys: Tensor, own: Tensor) -> Tensor:
    """Hidden columns over the flattened groups (B, B*M): other rows' copies of row i's ``own`` documents, and
    the positives of rows with the same query."""
    per_row = keys.shape[1]
    owner = torch.arange(keys.shape[0], device=keys.device).repeat_interleave(per_row)
    flat_labels = labels.flatten()
    return equal_text_hidden(keys, own, keys.flatten(), owner, query_keys, flat_labels > 0)


def _infonce_hidden(keys: Tensor, labels: Tensor, query_keys: Tensor, with_negatives: bool) -> Tensor:
    """Hidden columns of InfoNCE's (B, B [+ B*N]) scores: other rows' copies of row i's positive (its first
    document), and the positives of rows with the same query."""
    rows = torch.arange(keys.shape[0], device=keys.device)
    col_keys, owner, positive = keys[:, 0], rows, torch.ones_like(rows, dtype=torch.bool)
    if with_negatives:
        col_keys = torch.cat([col_keys, keys[:, 1:].flatten()])
        owner = torch.cat([owner, rows.repeat_interleave(keys.shape[1] - 1)])
        positive = torch.cat(
            [positive, torch.zeros(owner.shape[0] - rows.shape[0], dtype=torch.bool, device=keys.device)]
        )
    own = labels[:, :1] == 1
    return equal_text_hidden(keys[:, :1], own, col_keys, owner, query_keys, positive)


def backward_scale(cfg: TrainConfig, batch) -> int:
    """What the loss is multiplied by before ``backward``: the world size for losses over gathered embeddings
    (their gradient reaches the parameters only through the local slice, and DDP averages over workers), 1 for
    losses of the worker's own batch (cross-encoder groups, Bradley-Terry). Logged losses stay unscaled, so
    curves agree across worker counts."""
    if isinstance(batch, RerankBatch) or (isinstance(batch, PreferenceBatch) and cfg.loss_name == "bradley_terry"):
        return 1
    return world()[1]
