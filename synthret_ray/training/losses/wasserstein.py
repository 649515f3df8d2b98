"""SyCL: list-wise 2-Wasserstein (Frechet) loss between predicted and graded-label distributions."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from synthret_ray.training.losses.base import RetrievalLoss, hide


def in_batch_labels(labels: Tensor) -> Tensor:
    """(B, G) graded labels of each query's own group -> (B, B*G), the other queries' documents as label 0."""
    return torch.block_diag(*labels.unbind(0))


def frechet_distance(p: Tensor, q: Tensor) -> Tensor:
    """2-Wasserstein distance between Gaussians fitted to the rows of ``p`` and ``q`` (both (B, N)).

    W = ||mu_P - mu_Q||^2 + Tr(Sigma_P + Sigma_Q - 2 (Sigma_P^{1/2} Sigma_Q Sigma_P^{1/2})^{1/2}),
    means and covariances (1/(B-1)) over the B rows. With C_X = (X - mu_X) / sqrt(B-1), Sigma_X = C_X^T C_X and
    Tr((Sigma_P^{1/2} Sigma_Q Sigma_P^{1/2})^{1/2}) is the nuclear norm of the small (B, B) matrix C_Q C_P^T
    (same nonzero spectrum), computed with svdvals in float64: stable, and no sqrt of a near-zero eigenvalue.
    """
    p, q = p.double(), q.double()
    batch = p.shape[0]
    scale = 1.0 / max(batch - 1, 1) ** 0.5
    c_p = (p - p.mean(0, keepdim=True)) * scale
    c_q = (q - q.mean(0, keepdim=True)) * scale
    mean_term = (p.mean(0) - q.mean(0)).pow(2).sum()
    trace_term = c_p.pow(2).sum() + c_q.pow(2).sum() - 2 * torch.linalg.svdvals(c_q @ c_p.T).sum()
    return mean_term + trace_term


class WassersteinLoss(RetrievalLoss):
    """List-wise 2-Wasserstein loss over graded synthetic documents (SyCL).

    S (B x BG): s(q_i, d) for each query against its own G graded documents and the other queries' documents
    (label 0 for query i). P = row-softmax(S) (S already divided by tau), Q = row-softmax(labels).
    L = ||mu_P - mu_Q||^2 + Tr(Sigma_P + Sigma_Q - 2 (Sigma_P^{1/2} Sigma_Q Sigma_P^{1/2})^{1/2}),
    the Frechet distance with means and covariances over the B rows, in float64.

    Args:
        temperature: tau in s(q, d) = cos(q, d) / tau.

    Inputs:
        queries (B, D); documents (B, G, D); labels (B, G) graded relevance, e.g. 3/2/1/0.
        hidden (B, B*G), True leaves that document out of query i's two distributions (another query's copy of
        one of q_i's documents).

    References:
        Esfandiarpoor et al., Beyond Contrastive Learning: Synthetic Data Enables List-wise Training with Multiple
        Levels of Relevance (SyCL), 2025, arXiv:2503.23239. Dowson and Landau 1982 (Frechet distance of Gaussians).

    Relations:
        ListNetLoss is the simpler list-wise baseline (cross-entropy between the same two row distributions).
        Because the distance compares the distribution of rows (their mean and covariance), it is invariant to
        permuting the queries of a batch: it rewards score lists shaped like the graded label lists, not the
        pairing of a given row with a given label row. Larger batches make the statistics more informative.
    """

    citation = "Esfandiarpoor et al. 2025, SyCL, arXiv:2503.23239; Dowson and Landau 1982"
    # The loss is a statistic of the batch's rows: a smaller batch is a different loss (the recipe refuses to shrink
    # the batch for it, see RecipeRun.fit_batch).
    batch_statistic = True

    def forward(self, queries: Tensor, documents: Tensor, labels: Tensor, hidden: Tensor | None = None) -> Tensor:
        scores = self.similarity(queries, documents.flatten(0, 1))  # (B, B*G)
        # a hidden column (another query's copy of one of q_i's documents) gets no mass in either distribution
        return self.compute_loss(hide(scores, hidden), hide(in_batch_labels(labels.to(scores.dtype)), hidden))

    @staticmethod
    def check_batch(scores: Tensor) -> None:
        if scores.shape[0] < 2:
            raise ValueError(
                "the Wasserstein loss needs 2 or more queries per (global) batch: a covariance over one row"
            )

    def compute_loss(self, scores: Tensor, labels: Tensor) -> Tensor:
        """``scores`` and ``labels`` both (B, B*G); returns a float32 scalar (computed in float64)."""
        self.check_batch(scores)
        return frechet_distance(F.softmax(scores, dim=1), F.softmax(labels, dim=1)).to(scores.dtype)
