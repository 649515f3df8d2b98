from __future__ import annotations

import pytest
import torch

from synthret_ray.training.losses import PairedWassersteinLoss, WassersteinLoss
from synthret_ray.training.losses.wasserstein import frechet_distance, in_batch_labels
from synthret_ray.training.losses.wasserstein_paired import paired_frechet_distance


def test_swapped_rows_by_hand():
    # N = 1, rows 1, 3 against 3, 1: same distribution (Frechet 0), but each row sits with the other's target.
    # mu_p = mu_q = 2; C_p = (-1, 1), C_q = (1, -1) (scale 1/sqrt(2 - 1)); ||C_p - C_q||^2 = 4 + 4 = 8.
    p, q = torch.tensor([[1.0], [3.0]]), torch.tensor([[3.0], [1.0]])
    assert frechet_distance(p, q).item() == pytest.approx(0.0, abs=1e-12)
    assert paired_frechet_distance(p, q).item() == pytest.approx(8.0)
    assert paired_frechet_distance(p, p).item() == pytest.approx(0.0)


def test_two_columns_by_hand():
    # B = 3: p rows (0,0) (1,0) (2,3), q rows (0,1) (0,1) (3,1).
    # mu_p = (1, 1), mu_q = (1, 1): mean term 0. scale^2 = 1/2.
    # centred p: (-1,-1) (0,-1) (1,2); centred q: (-1,0) (-1,0) (2,0); differences (0,-1) (1,-1) (-1,2):
    # squares 1 + 2 + 5 = 8, times 1/2 = 4.
    p = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 3.0]])
    q = torch.tensor([[0.0, 1.0], [0.0, 1.0], [3.0, 1.0]])
    assert paired_frechet_distance(p, q).item() == pytest.approx(4.0)


@pytest.mark.parametrize("seed", range(5))
def test_bounds_the_frechet_distance_from_above(seed):
    gen = torch.Generator().manual_seed(seed)
    p = torch.softmax(torch.randn(6, 10, generator=gen, dtype=torch.float64), 1)
    q = torch.softmax(2 * torch.randn(6, 10, generator=gen, dtype=torch.float64), 1)
    assert paired_frechet_distance(p, q).item() >= frechet_distance(p, q).item() - 1e-12


def test_tells_a_shifted_pairing_apart_where_sycls_loss_does_not():
    """Pins the per-query coupling (issue: SyCL's loss gives 0 both for the right pairing and for score rows shifted
    by one query)."""
    labels = in_batch_labels(torch.tensor([[3.0, 0.0], [3.0, 0.0], [3.0, 0.0]], dtype=torch.float64))
    shifted = labels.roll(1, dims=0)  # query i scored exactly like query i-1's label row
    assert WassersteinLoss(1.0).compute_loss(shifted, labels).item() == pytest.approx(0.0, abs=1e-9)
    assert PairedWassersteinLoss(1.0).compute_loss(labels, labels).item() == pytest.approx(0.0, abs=1e-12)
    assert PairedWassersteinLoss(1.0).compute_loss(shifted, labels).item() > 0.1


def test_one_query_is_refused():
    with pytest.raises(ValueError, match="2 or more queries"):
        PairedWassersteinLoss(1.0).compute_loss(torch.zeros(1, 4), torch.zeros(1, 4))
