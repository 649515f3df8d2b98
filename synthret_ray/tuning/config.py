"""Typed config of ``synthret tune``: a training config, the search space over its dotted keys, and the search.

train:          a TrainConfig (its eval.data / eval.split are the dev queries the objective is scored on)
search_space:   {dotted TrainConfig key: {type: loguniform|uniform|choice|randint|grid, low, high | values}}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from synthret_ray.config import ConfigError, StrictModel, check_key
from synthret_ray.training.config import TrainConfig


class Distribution(StrictModel):
    # grid: every value in turn (Ray Tune's grid_search; num_samples repeats the whole grid), with search=random
    type: Literal["loguniform", "uniform", "choice", "randint", "grid"]
    low: float | None = None
    high: float | None = None
    values: list[Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> Distribution:
        if self.type in ("choice", "grid"):
            if not self.values:
                raise ValueError(f"{self.type} needs a non-empty `values` list")
        elif self.low is None or self.high is None or not self.low < self.high:
            raise ValueError(f"{self.type} needs low < high, got low={self.low}, high={self.high}")
        elif self.type == "loguniform" and self.low <= 0:
            raise ValueError("loguniform needs low > 0")
        return self


class AshaSettings(StrictModel):
    grace_period: int = Field(1, gt=0, description="Reports (dev evaluations) before a trial can be stopped.")
    reduction_factor: float = Field(2, gt=1, description="Keep 1/reduction_factor of the trials at each rung.")


class TuneConfig(StrictModel):
    train: TrainConfig
    search_space: dict[str, Distribution] = Field(description="Dotted TrainConfig keys and their distributions.")
    num_samples: int = Field(8, gt=0, description="Trials.")
    search: Literal["optuna", "random"] = Field("optuna", description="Optuna TPE, or random sampling.")
    scheduler: Literal["asha", "fifo"] = Field("asha", description="ASHA early stopping, or run every trial out.")
    asha: AshaSettings = AshaSettings()
    metric: Literal["ndcg_at_10", "recall_at_100", "mrr_at_10"] = Field("ndcg_at_10", description="On dev queries.")
    max_concurrent_trials: int | None = Field(
        None, gt=0, description="null: as many as the cluster's CPUs (or GPUs) fit, one CPU left for data."
    )
    output_dir: str = Field("runs/tune", description="Trials, their checkpoints, best_config.yaml, trials.csv.")
    name: str = Field("tune", description="Experiment name.")
    seed: int = Field(0, description="Seed of the search algorithm.")

    @model_validator(mode="after")
    def _check(self) -> TuneConfig:
        problems = []
        if not self.train.eval.data:
            problems.append("train.eval.data: tuning needs dev queries to score trials (never the test split)")
        for key in self.search_space:
            try:
                check_key(TrainConfig, key)
            except ConfigError as exc:
                problems.append(f"search_space.{key}: {exc}")
            if self.search_space[key].type == "grid" and self.search == "optuna":
                problems.append(
                    f"search_space.{key}: type grid tries every value in turn, which Optuna's search cannot "
                    "do: set search=random (or use type choice)"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self
