"""Pairwise Bradley-Terry preference loss: Syntriever's alignment ablation."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from synthret_ray.training.losses.base import RetrievalLoss


class BradleyTerryLoss(RetrievalLoss):
    """Bradley-Terry loss on a preferred and a rejected candidate of the same query.

    L_i = -log sigmoid( s(q_i, c_i+) - s(q_i, c_i-) ),  s(q, d) = cos(q, d) / tau

    Args:
        temperature: tau.

    Inputs:
        queries (B, D), preferred (B, D), rejected (B, D).

    References:
        Bradley and Terry, Rank Analysis of Incomplete Block Designs, Biometrika 1952.
        Kim and Baek, Syntriever, NAACL Findings 2025 (ablation of the alignment loss).

    Relations:
        PartialPlackettLuceLoss adds in-batch candidates and the second Plackett-Luce draw.
    """

    citation = "Bradley and Terry 1952, Biometrika; Kim and Baek 2025, Syntriever (ablation)"

    def forward(self, queries: Tensor, preferred: Tensor, rejected: Tensor) -> Tensor:
        q = F.normalize(queries, dim=-1)
        margin = (q * F.normalize(preferred, dim=-1)).sum(-1) - (q * F.normalize(rejected, dim=-1)).sum(-1)
        return -F.logsigmoid(margin / self.temperature).mean()
