"""InfoNCE with in-batch negatives plus each query's hard negatives: the contrastive baseline."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from synthret_ray.training.losses.base import RetrievalLoss, hide


class InfoNCELoss(RetrievalLoss):
    """Contrastive loss over in-batch and hard negatives.

    L_i = -log( e^{s(q_i, p_i)} / ( sum_{j in B} e^{s(q_i, p_j)} + sum_{j in B} sum_{n in N_j} e^{s(q_i, n)} ) )
    with s(q, d) = cos(q, d) / tau.

    Args:
        temperature: tau; scale = 1/tau (0.05 is scale 20, sentence-transformers' default).

    Inputs:
        queries (B, D), positives (B, D), hard negatives (B, N, D) or None; negative_mask (B, N), False marks
        padding (a query with fewer than N hard negatives); hidden (B, B + B*N), True leaves that document out
        of query i's loss (another query's copy of q_i's positive; q_i's own positive is never hidden).

    References:
        van den Oord et al., Representation Learning with Contrastive Predictive Coding, 2018.
        Karpukhin et al., Dense Passage Retrieval for Open-Domain Question Answering, EMNLP 2020.

    Relations:
        Equals sentence-transformers' MultipleNegativesRankingLoss with scale = 1/tau.
    """

    citation = "van den Oord et al. 2018, arXiv:1807.03748; Karpukhin et al. 2020, EMNLP (DPR)"

    def forward(
        self,
        queries: Tensor,
        positives: Tensor,
        negatives: Tensor | None = None,
        negative_mask: Tensor | None = None,
        hidden: Tensor | None = None,
    ) -> Tensor:
        docs = positives if negatives is None else torch.cat([positives, negatives.flatten(0, 1)])
        scores = hide(self.similarity(queries, docs), hidden)  # (B, B + B*N)
        if negatives is not None and negative_mask is not None:
            keep = torch.cat(
                [torch.ones(len(positives), dtype=torch.bool, device=scores.device), negative_mask.flatten()]
            )
            scores = scores.masked_fill(~keep.unsqueeze(0), float("-inf"))
        return F.cross_entropy(scores, torch.arange(len(queries), device=scores.device))
