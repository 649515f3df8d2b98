"""Syntriever stage 2: partial Plackett-Luce alignment to the LLM's pairwise preferences."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from synthret_ray.training.losses.base import RetrievalLoss


class PartialPlackettLuceLoss(RetrievalLoss):
    """Partial Plackett-Luce loss with in-batch candidates, plus regularization toward the stage-1 model.

    For a triple (q_i, c_i+, c_i-) where the LLM preferred c_i+ over c_i-, with C = {c_j+, c_j- : j in B}:
      L_i = -log( e^{s(q_i,c_i+)} / sum_{c in C} e^{s(q_i,c)} )
            -log( e^{s(q_i,c_i-)} / ( e^{s(q_i,c_i-)} + sum_{c in C, c not in {c_i+, c_i-}} e^{s(q_i,c)} ) )
    i.e. c_i+ is drawn first from all candidates, then c_i- from what remains minus c_i+ (the other queries'
    candidates stay as competitors). The paper continues from stage 1 with these terms alone (lambda = 0). The
    optional regularization with strength lambda anchors what the preference does not touch:
      R_i = lambda * KL( softmax_{C'}(s_ref(q_i, .)) || softmax_{C'}(s(q_i, .)) ),  C' = C minus {c_i+, c_i-},
    s_ref from the frozen stage-1 model. A KL over all of C would put most of its mass on the contested pair
    itself and resist exactly the flip the LLM asks for; over C' it only keeps the rest of q_i's ranking near
    stage 1.
    Another query's candidates are treated as irrelevant to q_i, so rows that share q_i's query (same_query)
    are left out of q_i's denominators rather than counted as negatives.

    Args:
        temperature: tau in s(q, d) = cos(q, d) / tau.
        regularization: lambda >= 0; 0 is the paper's setting (the recipe's default), tuning searches it.

    Inputs:
        queries (B, D), preferred (B, D), rejected (B, D); reference_scores (B, 2B) of the stage-1 model over
        [preferred; rejected] (required when lambda > 0); same_query (B, B) bool, True where rows i != j share
        a query (optional); hidden (B, 2B) bool, True leaves that candidate out of row i entirely (another row's
        copy of c_i+ or c_i-; optional).

    References:
        Kim and Baek, Syntriever, NAACL Findings 2025 (alignment stage). Plackett 1975; Luce 1959.

    Relations:
        BradleyTerryLoss is the pairwise ablation without in-batch candidates.
    """

    citation = "Kim and Baek 2025, Syntriever, NAACL Findings (arXiv:2502.03824); Plackett 1975; Luce 1959"

    def __init__(self, temperature: float = 0.05, regularization: float = 0.0):
        super().__init__(temperature)
        if regularization < 0:
            raise ValueError(f"regularization must be >= 0, got {regularization}")
        self.regularization = regularization

    def get_config_dict(self) -> dict[str, float]:
        return {**super().get_config_dict(), "regularization": self.regularization}

    def forward(
        self,
        queries: Tensor,
        preferred: Tensor,
        rejected: Tensor,
        reference_scores: Tensor | None = None,
        same_query: Tensor | None = None,
        reduction: str = "mean",
        hidden: Tensor | None = None,
    ) -> Tensor:
        scores = self.similarity(queries, torch.cat([preferred, rejected]))  # (B, 2B)
        return self.compute_loss(scores, reference_scores, same_query, reduction, hidden)

    def compute_loss(
        self,
        scores: Tensor,
        reference_scores: Tensor | None = None,
        same_query: Tensor | None = None,
        reduction: str = "mean",
        hidden: Tensor | None = None,
    ) -> Tensor:
        """``reduction="none"`` returns the (B,) per-query losses."""
        batch = scores.shape[0]
        rows = torch.arange(batch, device=scores.device)
        if same_query is not None:
            other_rows = same_query & ~torch.eye(batch, dtype=torch.bool, device=scores.device)
            hidden = other_rows.repeat(1, 2) if hidden is None else hidden | other_rows.repeat(1, 2)
        if hidden is not None:
            scores = scores.masked_fill(hidden, float("-inf"))
            if reference_scores is not None:
                reference_scores = reference_scores.masked_fill(hidden, float("-inf"))
        first = torch.logsumexp(scores, dim=1) - scores[rows, rows]
        without_preferred = scores.clone()
        without_preferred[rows, rows] = float("-inf")
        second = torch.logsumexp(without_preferred, dim=1) - scores[rows, rows + batch]
        loss = first + second
        if self.regularization > 0:
            if reference_scores is None:
                raise ValueError("regularization > 0 needs reference_scores from the frozen stage-1 model")
            contested = torch.zeros_like(scores, dtype=torch.bool)
            contested[rows, rows] = contested[rows, rows + batch] = True
            untouched, reference = scores.masked_fill(contested, float("-inf")), reference_scores.detach()
            reference = reference.masked_fill(contested, float("-inf"))
            kept = torch.isfinite(untouched)
            empty = ~kept.any(dim=1, keepdim=True)  # nothing left to anchor: KL 0, and no NaN from all -inf
            untouched, reference = untouched.masked_fill(empty, 0.0), reference.masked_fill(empty, 0.0)
            ref_log_probs = F.log_softmax(reference, dim=1)
            terms = ref_log_probs.exp() * (ref_log_probs - F.log_softmax(untouched, dim=1))  # (B, 2B)
            kl = terms.masked_fill(~kept, 0.0).sum(dim=1)  # contested and hidden candidates add 0
            loss = loss + self.regularization * kl
        return loss if reduction == "none" else loss.mean()
