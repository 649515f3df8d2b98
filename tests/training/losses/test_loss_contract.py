"""Every registered loss: a finite scalar with gradients, lower when positives match their queries."""

from __future__ import annotations

import pytest
import torch

from synthret_ray.training.losses import LOSSES, get_loss

B, D = 4, 16


def _inputs(name: str, correct: bool, q: torch.Tensor):
    """Inputs where the positive (or top-graded) documents are near their own query, or opposite to it."""
    torch.manual_seed(1)
    target = q if correct else -q
    noise = lambda *shape: 0.1 * torch.randn(*shape)  # noqa: E731
    negatives = torch.randn(B, 2, D)
    if name == "infonce":
        return (q, target + noise(B, D), negatives)
    if name == "syntriever_distill":
        docs = torch.cat([(target + noise(B, D)).unsqueeze(1), negatives], dim=1)
        return (q, docs, torch.tensor([[1, 0, 0]] * B))
    if name in ("partial_plackett_luce", "bradley_terry"):
        return (q, target + noise(B, D), torch.randn(B, D))
    if name in ("wasserstein", "wasserstein_paired", "listnet"):
        docs = torch.cat([(target + noise(B, D)).unsqueeze(1), negatives], dim=1)
        return (q, docs, torch.tensor([[3.0, 1.0, 0.0]] * B))
    if name == "lce":
        pos = (q * target).sum(-1, keepdim=True) * 5
        return (torch.cat([pos, torch.zeros(B, 3)], dim=1),)
    raise AssertionError(f"no contract inputs for loss {name!r}: add them here")


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_contract(name):
    loss_fn = get_loss(name)()
    q = torch.nn.functional.normalize(torch.randn(B, D), dim=-1).requires_grad_(True)
    good = loss_fn(*_inputs(name, True, q))
    assert good.dim() == 0 and torch.isfinite(good)
    good.backward()
    assert q.grad is not None and torch.isfinite(q.grad).all() and q.grad.abs().sum() > 0
    bad = loss_fn(*_inputs(name, False, q.detach()))
    assert good.item() < bad.item()
    assert isinstance(loss_fn.get_config_dict(), dict) and loss_fn.citation


def test_unknown_loss_lists_the_registered_ones():
    with pytest.raises(KeyError, match=r"unknown loss 'nce'; registered: \['bradley_terry'"):
        get_loss("nce")
