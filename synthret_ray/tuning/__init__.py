"""Ray Tune search over loss weights, temperature, regularization, learning rate and batch size."""

from __future__ import annotations

from synthret_ray.tuning.config import TuneConfig
from synthret_ray.tuning.tuner import TuneResult, tune

__all__ = ["TuneConfig", "TuneResult", "tune"]
