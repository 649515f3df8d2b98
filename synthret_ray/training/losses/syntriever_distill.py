"""Syntriever stage 1: multi-positive soft nearest-neighbour loss over LLM-synthesized passages."""

from __future__ import annotations

import torch
from torch import Tensor

from synthret_ray.training.losses.base import RetrievalLoss, hide, masked_logsumexp

POSITIVE, NEGATIVE, PAD = 1, 0, -1


class SyntrieverDistillLoss(RetrievalLoss):
    """Multi-positive soft nearest-neighbour loss (Syntriever, stage 1: distillation).

    L_i = -log( sum_{d in P_i} e^{s(q_i, d)} / sum_{j in B} sum_{d in P_j or N_j} e^{s(q_i, d)} )
    P_i: positives of query i (source passage, verified synthetic positive, chain-of-thought text q_i^cot);
    N_j: hard negatives of query j (synthetic negatives, positives that failed verification).
    Every document of every query in the batch is in the denominator; only query i's positives are above.

    Args:
        temperature: tau in s(q, d) = cos(q, d) / tau.

    Inputs:
        queries (B, D); documents (B, M, D); labels (B, M) with 1 = positive, 0 = negative, -1 = padding.
        Each query needs at least one positive. hidden (B, B*M), True leaves that document out of query i's
        denominator (another query's copy of one of q_i's positives).

    References:
        Kim and Baek, Syntriever: How to Train Your Retriever with Synthetic Data from LLMs, NAACL Findings 2025.
        Frosst et al., Analyzing and Improving Representations with the Soft Nearest Neighbor Loss, ICML 2019.

    Relations:
        With one positive per query this is InfoNCELoss. The public Syntriever code instead puts q^cot and p+
        among the negatives of plain InfoNCE; this module implements the paper's formula.
    """

    citation = "Kim and Baek 2025, Syntriever, NAACL Findings (arXiv:2502.03824); Frosst et al. 2019, ICML"

    def forward(self, queries: Tensor, documents: Tensor, labels: Tensor, hidden: Tensor | None = None) -> Tensor:
        batch, per_query = labels.shape
        scores = hide(self.similarity(queries, documents.flatten(0, 1)), hidden)  # (B, B*M)
        return self.compute_loss(scores, labels.reshape(1, batch * per_query).expand(batch, -1), per_query)

    def compute_loss(self, scores: Tensor, flat_labels: Tensor, per_query: int) -> Tensor:
        """``scores`` (B, B*M): query i against every document; ``flat_labels`` (B, B*M) the documents' labels."""
        batch = scores.shape[0]
        owner = torch.arange(batch * per_query, device=scores.device) // per_query  # query each document belongs to
        own = owner.unsqueeze(0) == torch.arange(batch, device=scores.device).unsqueeze(1)  # (B, B*M)
        positive = own & (flat_labels == POSITIVE)
        if not bool(positive.any(dim=1).all()):
            raise ValueError("every query needs at least one positive document (label 1)")
        valid = (flat_labels != PAD) & torch.isfinite(scores)
        return (masked_logsumexp(scores, valid) - masked_logsumexp(scores, positive)).mean()
