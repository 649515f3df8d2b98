"""Localized contrastive estimation (LCE) for cross-encoder rerankers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class LCELoss(nn.Module):
    """Cross-entropy over groups of one positive and n hard negatives scored by a cross-encoder.

    L_i = -log( e^{f(q_i, d_i+)} / ( e^{f(q_i, d_i+)} + sum_{k=1..n} e^{f(q_i, d_ik-)} ) )
    f is the cross-encoder's raw score (logit); the positive is column 0 of each group.

    Inputs:
        scores (B, 1 + n): column 0 the positive, the rest its hard negatives (n = 7 by default in training);
        mask (B, 1 + n) bool, False for padding (a group with fewer than n negatives).

    References:
        Gao, Dai and Callan, Rethink Training of BERT Rerankers in Multi-Stage Retrieval Pipeline, ECIR 2021.

    Relations:
        InfoNCE for cross-encoders with localized (retrieved) negatives only.
    """

    citation = "Gao, Dai and Callan 2021, ECIR (arXiv:2101.08751)"

    def get_config_dict(self) -> dict:
        return {}

    def forward(self, scores: Tensor, mask: Tensor | None = None) -> Tensor:
        if scores.dim() != 2 or scores.shape[1] < 2:
            raise ValueError(f"expected scores of shape (B, 1 + n) with n >= 1, got {tuple(scores.shape)}")
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        return F.cross_entropy(scores, torch.zeros(len(scores), dtype=torch.long, device=scores.device))
