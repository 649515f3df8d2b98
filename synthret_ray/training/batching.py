"""Turn training rows into fixed-shape batches, so embeddings can be gathered across workers.

Groups are cut or padded to sizes from ``GroupConfig``: every worker's batch has the same shape, which the
cross-worker all-gather of embeddings needs.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from synthret_ray.training.config import GroupConfig
from synthret_ray.training.data import as_list

PAD = -1


@dataclass
class GroupBatch:
    """pairs / distill: each query with up to M documents; ``labels`` 1 = positive, 0 = negative, -1 = padding."""

    queries: list[str]
    docs: list[str]  # the real documents, in slot order
    slots: Tensor  # (B, M): index into ``docs``, -1 for padding
    labels: Tensor  # (B, M)


@dataclass
class PreferenceBatch:
    queries: list[str]
    preferred: list[str]
    rejected: list[str]
    query_keys: Tensor  # (B,) int64 hash of query_id: rows that share a query are masked in the loss


@dataclass
class ListwiseBatch:
    queries: list[str]
    docs: list[str]  # B * G (a padding slot repeats a document of its row; ``mask`` leaves it out)
    labels: Tensor  # (B, G) float
    mask: Tensor  # (B, G) bool, False for padding


@dataclass
class RerankBatch:
    pairs: list[tuple[str, str]]  # B * (1 + n): each group's positive first
    group_size: int
    mask: Tensor  # (B, 1 + n) bool, False for padding (a query with fewer than n negatives)


def _group(queries: list[str], groups: list[tuple[list[str], list[int]]], width: int) -> GroupBatch:
    docs: list[str] = []
    slots = torch.full((len(groups), width), PAD, dtype=torch.long)
    labels = torch.full((len(groups), width), PAD, dtype=torch.long)
    for row, (texts, marks) in enumerate(groups):
        for col, (text, mark) in enumerate(zip(texts[:width], marks[:width], strict=True)):
            slots[row, col] = len(docs)
            labels[row, col] = mark
            docs.append(text)
    return GroupBatch(queries, docs, slots, labels)


def collate_group(rows: Sequence[dict], stage: str, loss_name: str, cfg: GroupConfig) -> GroupBatch:
    """pairs rows (positive, negatives) or distill rows (positives, negatives). With the infonce loss only the
    first positive is kept, so distill data trains the single-positive baseline."""
    n_pos = 1 if (stage == "pairs" or loss_name == "infonce") else cfg.max_positives
    groups = []
    for row in rows:
        positives = [row["positive"]] if stage == "pairs" else as_list(row["positives"])
        positives = positives[:n_pos]
        negatives = as_list(row.get("negatives"))[: cfg.max_negatives]
        groups.append((positives + negatives, [1] * len(positives) + [0] * len(negatives)))
    return _group([r["query"] for r in rows], groups, n_pos + cfg.max_negatives)


def query_key(query_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(str(query_id).encode(), digest_size=8).digest(), "big", signed=True)


def collate_preference(rows: Sequence[dict]) -> PreferenceBatch:
    return PreferenceBatch(
        [r["query"] for r in rows],
        [r["preferred"] for r in rows],
        [r["rejected"] for r in rows],
        torch.tensor([query_key(r["query_id"]) for r in rows], dtype=torch.long),
    )


def collate_listwise(rows: Sequence[dict], cfg: GroupConfig, rng: random.Random | None = None) -> ListwiseBatch:
    """Keep ``listwise_size`` documents per query: one of each label level, most relevant first, then the rest.
    With ``rng`` (a seed per epoch and batch), which document stands for a level and which of the rest are kept
    is drawn anew each epoch, as SyCL samples its lists; without it, file order. A shorter list is padded with
    masked slots: repeating its documents would change the target distribution."""
    size = cfg.listwise_size
    docs, labels, mask = [], [], []
    for row in rows:
        pairs = list(zip(as_list(row["documents"]), [int(v) for v in as_list(row["labels"])], strict=True))
        if rng is not None:
            rng.shuffle(pairs)
        seen, first, rest = set(), [], []
        for doc, label in sorted(pairs, key=lambda p: -p[1]):  # stable: the shuffled order within a level
            (rest if label in seen else first).append((doc, label))
            seen.add(label)
        if rng is not None:
            rng.shuffle(rest)
        chosen = (first + rest)[:size]
        mask.append([True] * len(chosen) + [False] * (size - len(chosen)))
        chosen += [(chosen[0][0], 0)] * (size - len(chosen))
        docs.extend(d for d, _ in chosen)
        labels.append([float(label) for _, label in chosen])
    return ListwiseBatch([r["query"] for r in rows], docs, torch.tensor(labels), torch.tensor(mask))


def collate_rerank(rows: Sequence[dict], cfg: GroupConfig, rng: random.Random | None = None) -> RerankBatch:
    """One positive and ``reranker_negatives`` hard negatives per query: with ``rng`` drawn anew each epoch from
    the row's negatives (LCE samples its groups), without it the first ones. Fewer negatives leave masked
    slots: cycling them would count a negative twice."""
    n = cfg.reranker_negatives
    pairs, mask = [], []
    for row in rows:
        negatives = as_list(row["negatives"])
        if rng is not None and len(negatives) > n:
            negatives = rng.sample(negatives, n)
        negatives = negatives[:n]
        pairs.append((row["query"], row["positive"]))
        pairs.extend((row["query"], d) for d in negatives + [negatives[0]] * (n - len(negatives)))
        mask.append([True] * (1 + len(negatives)) + [False] * (n - len(negatives)))
    return RerankBatch(pairs, 1 + n, torch.tensor(mask))
