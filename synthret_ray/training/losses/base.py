"""Shared pieces of the retrieval losses: scaled cosine similarity and the config/citation protocol."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def scaled_cosine(queries: Tensor, docs: Tensor, temperature: float) -> Tensor:
    """s(q, d) = cos(q, d) / tau for every pair: (B, D) x (N, D) -> (B, N)."""
    return F.normalize(queries, dim=-1) @ F.normalize(docs, dim=-1).T / temperature


class RetrievalLoss(nn.Module):
    """Base of the bi-encoder losses: a temperature tau (scale = 1/tau) and ``get_config_dict``/``citation``."""

    citation: str = ""

    def __init__(self, temperature: float = 0.05):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature

    def get_config_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature}

    def similarity(self, queries: Tensor, docs: Tensor) -> Tensor:
        return scaled_cosine(queries, docs, self.temperature)


def hide(scores: Tensor, hidden: Tensor | None) -> Tensor:
    """``scores`` with the ``hidden`` (B, C) columns of each row set to -inf: left out of that row's loss, neither
    positive nor negative (another row's copy of one of the row's positives, say)."""
    return scores if hidden is None else scores.masked_fill(hidden, float("-inf"))


def masked_logsumexp(scores: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """logsumexp over the entries where ``mask`` is true; -inf where a row has none."""
    return torch.logsumexp(scores.masked_fill(~mask, float("-inf")), dim=dim)
