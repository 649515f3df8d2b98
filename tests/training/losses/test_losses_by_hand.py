"""Each loss against values computed by hand on 2-d unit vectors, where cosines are 1, 0 or -1 and tau = 1."""

from __future__ import annotations

import math

import pytest
import torch

from synthret_ray.training.losses import (
    BradleyTerryLoss,
    InfoNCELoss,
    LCELoss,
    ListNetLoss,
    PartialPlackettLuceLoss,
    SyntrieverDistillLoss,
)

E = math.e
X, Y = [1.0, 0.0], [0.0, 1.0]
NX, NY = [-1.0, 0.0], [0.0, -1.0]


def t(*rows):
    return torch.tensor(rows)


def test_infonce_in_batch_only():
    # S = [[1, 0], [0, 1]]: each row is -log(e / (e + 1)).
    loss = InfoNCELoss(temperature=1.0)(t(X, Y), t(X, Y))
    assert loss.item() == pytest.approx(math.log(1 + 1 / E))


def test_infonce_with_hard_negatives():
    # Row 1 sees p1=1, p2=0, n1=-1, n2=0: -log(e / (e + 2 + 1/e)); row 2 is symmetric.
    loss = InfoNCELoss(temperature=1.0)(t(X, Y), t(X, Y), torch.tensor([[NX], [NY]]))
    assert loss.item() == pytest.approx(math.log(E + 2 + 1 / E) - 1)


def test_temperature_scales_scores():
    # tau = 0.5 doubles the scores: -log(e^2 / (e^2 + 1)).
    assert InfoNCELoss(0.5)(t(X, Y), t(X, Y)).item() == pytest.approx(math.log(1 + E**-2))


def test_syntriever_distill_multi_positive():
    # q1 = x: own docs [x (pos), y (neg)]; q2 = y: own docs [y (pos), x (pos)]. All four docs in each denominator.
    # q1 scores [1, 0, 0, 1]: L1 = -log(e / (2e + 2)).  q2 scores [0, 1, 1, 0]: L2 = -log((e + 1) / (2e + 2)) = log 2.
    docs = torch.tensor([[X, Y], [Y, X]])
    labels = torch.tensor([[1, 0], [1, 1]])
    loss = SyntrieverDistillLoss(1.0)(t(X, Y), docs, labels)
    assert loss.item() == pytest.approx((math.log(2 * E + 2) - 1 + math.log(2)) / 2)


def test_syntriever_distill_padding_is_ignored():
    loss_fn = SyntrieverDistillLoss(1.0)
    base = loss_fn(t(X, Y), torch.tensor([[X, Y], [Y, X]]), torch.tensor([[1, 0], [1, 1]]))
    padded = loss_fn(t(X, Y), torch.tensor([[X, Y, X], [Y, X, NY]]), torch.tensor([[1, 0, -1], [1, 1, -1]]))
    assert padded.item() == pytest.approx(base.item())


def test_syntriever_distill_needs_a_positive_per_query():
    with pytest.raises(ValueError, match="at least one positive"):
        SyntrieverDistillLoss(1.0)(t(X, Y), torch.tensor([[X, Y], [Y, X]]), torch.tensor([[1, 0], [0, 0]]))


def test_syntriever_distill_with_one_positive_equals_infonce():
    torch.manual_seed(0)
    q, p, n = torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 1, 8)
    docs = torch.cat([p.unsqueeze(1), n], dim=1)
    labels = torch.tensor([[1, 0]] * 4)
    assert SyntrieverDistillLoss(0.1)(q, docs, labels).item() == pytest.approx(
        InfoNCELoss(0.1)(q, p, n).item(), rel=1e-5
    )


def _ppl_batch():
    # q1 = x prefers x over y; q2 = y prefers y over x. Candidates C = [x, y, y, x] (preferred, then rejected).
    return t(X, Y), t(X, Y), t(Y, X)


def test_partial_plackett_luce_by_hand():
    # q1 scores over C: [1, 0, 0, 1]. First draw: -log(e / (2e + 2)). Second draw without c1+: the rejected y (0)
    # among {y: 0, y: 0, x: 1}: -log(1 / (2 + e)). q2 is symmetric.
    loss = PartialPlackettLuceLoss(1.0)(*_ppl_batch())
    assert loss.item() == pytest.approx(math.log(2 * E + 2) - 1 + math.log(2 + E))


def test_partial_plackett_luce_regularization_anchors_only_the_uncontested_candidates():
    """Pins the KL over C minus {c_i+, c_i-}: over all of C it pulled the contested pair back toward stage 1."""
    q, pos, neg = _ppl_batch()
    loss_fn = PartialPlackettLuceLoss(1.0, regularization=0.5)
    base = PartialPlackettLuceLoss(1.0)(q, pos, neg).item()
    same = loss_fn.similarity(q, torch.cat([pos, neg]))
    assert loss_fn(q, pos, neg, same).item() == pytest.approx(base)  # KL to itself is 0
    # q1 over C = [x, y, y, x] scores [1, 0, 0, 1]; its own pair (columns 0 and 2) is left out: p = softmax([0, 1])
    # over the other row's candidates. Uniform reference u = 1/2: KL(u || p) = -log 2 - 1/2 + log(1 + e) per row.
    kl = -math.log(2) - 0.5 + math.log(1 + E)
    assert loss_fn(q, pos, neg, torch.zeros(2, 4)).item() == pytest.approx(base + 0.5 * kl)
    # a reference that disagrees only on the contested pair adds nothing: the LLM's flip is not resisted
    flipped = same.clone()
    flipped[0, 0], flipped[0, 2] = flipped[0, 2], flipped[0, 0]
    assert loss_fn(q, pos, neg, flipped).item() == pytest.approx(base)
    with pytest.raises(ValueError, match="needs reference_scores"):
        loss_fn(q, pos, neg)


def test_bradley_terry_by_hand():
    # margin = (cos(x, x) - cos(x, y)) / 0.5 = 2: -log sigmoid(2) = log(1 + e^-2).
    loss = BradleyTerryLoss(0.5)(t(X), t(X), t(Y))
    assert loss.item() == pytest.approx(math.log(1 + E**-2))


def test_listnet_by_hand():
    # One document per query, label 1; in-batch labels [[1, 0], [0, 1]]; scores [[1, 0], [0, 1]].
    # CE = -(e/(e+1)) (1 - log(1+e)) + (1/(e+1)) log(1+e) = log(1+e) - e/(e+1).
    loss = ListNetLoss(1.0)(t(X, Y), torch.tensor([[X], [Y]]), torch.tensor([[1.0], [1.0]]))
    assert loss.item() == pytest.approx(math.log(1 + E) - E / (E + 1))


def test_lce_by_hand():
    # Positive 2, negatives 0 and 0: -log(e^2 / (e^2 + 2)).
    assert LCELoss()(torch.tensor([[2.0, 0.0, 0.0]])).item() == pytest.approx(math.log(1 + 2 * E**-2))
    with pytest.raises(ValueError, match=r"shape \(B, 1 \+ n\)"):
        LCELoss()(torch.tensor([[2.0]]))


def test_invalid_hyperparameters():
    with pytest.raises(ValueError, match="temperature must be > 0"):
        InfoNCELoss(0.0)
    with pytest.raises(ValueError, match="regularization must be >= 0"):
        PartialPlackettLuceLoss(0.05, regularization=-1)


def test_infonce_padding_mask_drops_padded_negatives():
    # Padding the second query's only negative must equal having no hard negative for it at all:
    # row 1 sees p1=1, p2=0, n1=-1: -log(e / (e + 1 + 1/e)); row 2 sees p1=0, p2=1, n1=0: -log(e / (e + 2)).
    negatives = torch.tensor([[NX], [NY]])
    loss = InfoNCELoss(1.0)(t(X, Y), t(X, Y), negatives, torch.tensor([[True], [False]]))
    expected = (math.log(E + 1 + 1 / E) - 1 + math.log(E + 2) - 1) / 2
    assert loss.item() == pytest.approx(expected)


def test_partial_plackett_luce_hides_rows_of_the_same_query():
    # Rows 0 and 1 share a query: with the mask, row 0's loss equals its loss in the batch {0, 2} (row 1's
    # candidates are neither competitors nor in the KL), and likewise for row 1 in {1, 2}.
    torch.manual_seed(0)
    q, pos, neg = torch.randn(3, 8), torch.randn(3, 8), torch.randn(3, 8)
    q[1] = q[0]
    ref = torch.randn(3, 6)
    loss_fn = PartialPlackettLuceLoss(0.1, regularization=0.3)
    same = torch.tensor([[False, True, False], [True, False, False], [False, False, False]])
    masked = loss_fn(q, pos, neg, ref, same, reduction="none")
    for row, keep in ((0, [0, 2]), (1, [1, 2])):
        k = torch.tensor(keep)
        sub = loss_fn(q[k], pos[k], neg[k], ref[k][:, torch.cat([k, k + 3])], reduction="none")
        assert masked[row].item() == pytest.approx(sub[0].item(), rel=1e-5)
    unmasked = loss_fn(q, pos, neg, ref, reduction="none")
    assert masked[0].item() != pytest.approx(unmasked[0].item())
    assert masked[2].item() == pytest.approx(unmasked[2].item())  # row 2 shares its query with nobody
