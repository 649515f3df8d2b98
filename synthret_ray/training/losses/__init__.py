"""Losses, one per module, registered by name for configs (``training.loss.name``)."""

from __future__ import annotations

from torch import nn

from synthret_ray.training.losses.bradley_terry import BradleyTerryLoss
from synthret_ray.training.losses.infonce import InfoNCELoss
from synthret_ray.training.losses.lce import LCELoss
from synthret_ray.training.losses.listnet import ListNetLoss
from synthret_ray.training.losses.partial_plackett_luce import PartialPlackettLuceLoss
from synthret_ray.training.losses.syntriever_distill import SyntrieverDistillLoss
from synthret_ray.training.losses.wasserstein import WassersteinLoss
from synthret_ray.training.losses.wasserstein_paired import PairedWassersteinLoss

LOSSES: dict[str, type[nn.Module]] = {
    "infonce": InfoNCELoss,
    "syntriever_distill": SyntrieverDistillLoss,
    "partial_plackett_luce": PartialPlackettLuceLoss,
    "bradley_terry": BradleyTerryLoss,
    "wasserstein": WassersteinLoss,
    "wasserstein_paired": PairedWassersteinLoss,
    "listnet": ListNetLoss,
    "lce": LCELoss,
}


def get_loss(name: str) -> type[nn.Module]:
    if name not in LOSSES:
        raise KeyError(f"unknown loss {name!r}; registered: {sorted(LOSSES)}")
    return LOSSES[name]


__all__ = [
    "LOSSES",
    "BradleyTerryLoss",
    "InfoNCELoss",
    "LCELoss",
    "ListNetLoss",
    "PairedWassersteinLoss",
    "PartialPlackettLuceLoss",
    "SyntrieverDistillLoss",
    "WassersteinLoss",
    "get_loss",
]
