"""SyCL's list-wise Wasserstein loss with each query coupled to its own label list (a per-query variant)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from synthret_ray.training.losses.wasserstein import WassersteinLoss


def paired_frechet_distance(p: Tensor, q: Tensor) -> Tensor:
    """The Frechet distance's two terms with the rows of ``p`` and ``q`` (both (B, N)) coupled by index.

    W_paired = ||mu_P - mu_Q||^2 + Tr(Sigma_P + Sigma_Q - 2 Sigma_PQ) = ||mu_P - mu_Q||^2 + ||C_P - C_Q||_F^2,
    with C_X = (X - mu_X) / sqrt(B-1) and Sigma_PQ = C_P^T C_Q the cross-covariance of row i of P with row i of Q.
    The Frechet distance takes the best coupling of rows instead (Tr((Sigma_P^{1/2} Sigma_Q Sigma_P^{1/2})^{1/2}) =
    ||C_Q C_P^T||_* >= Tr(C_Q C_P^T)), so W_paired >= W, with equality when the given pairing is the best one.
    """
    p, q = p.double(), q.double()
    scale = 1.0 / max(p.shape[0] - 1, 1) ** 0.5
    c_p = (p - p.mean(0, keepdim=True)) * scale
    c_q = (q - q.mean(0, keepdim=True)) * scale
    return (p.mean(0) - q.mean(0)).pow(2).sum() + (c_p - c_q).pow(2).sum()


class PairedWassersteinLoss(WassersteinLoss):
    """List-wise 2-Wasserstein loss over graded documents, each query's scores coupled to its own labels.

    S (B x BG) and P = row-softmax(S), Q = row-softmax(labels) as in WassersteinLoss (SyCL).
    L = ||mu_P - mu_Q||^2 + (1 / (B-1)) sum_i ||(P_i - mu_P) - (Q_i - mu_Q)||^2:
    the Frechet distance's mean and trace terms with the coupling fixed to "row i of P with row i of Q" instead of
    the best coupling of rows (the nuclear-norm term). Computed in float64.

    Why: SyCL's loss compares the distribution of rows, so it is the same for a batch whose score rows are shifted
    by one query (each query scored like its neighbour's label list): it cannot tell which query gets which list.
    This variant is that loss plus the non-negative gap between the given pairing and the best one (0 only when
    each query's row already sits with its own labels). It is close to a per-row squared error between P_i and Q_i
    ((1/B) sum_i ||P_i - Q_i||^2 = ||mu_P - mu_Q||^2 + (1/B) sum_i ||(P_i - mu_P) - (Q_i - mu_Q)||^2).

    Args:
        temperature: tau in s(q, d) = cos(q, d) / tau.

    Inputs:
        queries (B, D); documents (B, G, D); labels (B, G) graded relevance, e.g. 3/2/1/0.
        hidden (B, B*G), True leaves that document out of query i's two distributions.

    References:
        Esfandiarpoor et al., Beyond Contrastive Learning: Synthetic Data Enables List-wise Training with Multiple
        Levels of Relevance (SyCL), 2025, arXiv:2503.23239 (the loss this one couples per query). Dowson and
        Landau 1982 (Frechet distance of Gaussians).

    Relations:
        WassersteinLoss is SyCL's own form (``wasserstein``, the recipe default); ListNetLoss is the per-row
        cross-entropy between the same two distributions.
    """

    citation = "Esfandiarpoor et al. 2025, SyCL, arXiv:2503.23239 (coupled per query); Dowson and Landau 1982"

    def compute_loss(self, scores: Tensor, labels: Tensor) -> Tensor:
        """``scores`` and ``labels`` both (B, B*G); returns a float32 scalar (computed in float64)."""
        self.check_batch(scores)
        return paired_frechet_distance(F.softmax(scores, dim=1), F.softmax(labels, dim=1)).to(scores.dtype)
