"""ListNet: cross-entropy between the graded-label and predicted row distributions."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from synthret_ray.training.losses.base import RetrievalLoss, hide
from synthret_ray.training.losses.wasserstein import in_batch_labels


class ListNetLoss(RetrievalLoss):
    """ListNet top-one cross-entropy over each query's graded documents and the in-batch documents.

    L_i = - sum_d softmax(labels_i)_d * log softmax(S_i)_d, S_i = s(q_i, .) over the batch's B*G documents
    (the other queries' documents carry label 0 for query i).

    Args:
        temperature: tau in s(q, d) = cos(q, d) / tau.

    Inputs:
        queries (B, D); documents (B, G, D); labels (B, G) graded relevance.
        hidden (B, B*G), True leaves that document out of query i's two distributions (another query's copy of
        one of q_i's documents).

    References:
        Cao et al., Learning to Rank: From Pairwise Approach to Listwise Approach, ICML 2007.

    Relations:
        WassersteinLoss compares the same two distributions with the Frechet distance instead.
    """

    citation = "Cao et al. 2007, ListNet, ICML"

    def forward(self, queries: Tensor, documents: Tensor, labels: Tensor, hidden: Tensor | None = None) -> Tensor:
        scores = self.similarity(queries, documents.flatten(0, 1))  # (B, B*G)
        # a hidden column (another query's copy of one of q_i's documents) gets no mass in either distribution
        return self.compute_loss(hide(scores, hidden), hide(in_batch_labels(labels.to(scores.dtype)), hidden))

    def compute_loss(self, scores: Tensor, labels: Tensor) -> Tensor:
        target = F.softmax(labels, dim=1)
        terms = (target * F.log_softmax(scores, dim=1)).masked_fill(target == 0, 0.0)  # hidden: 0 * -inf
        return -terms.sum(dim=1).mean()
