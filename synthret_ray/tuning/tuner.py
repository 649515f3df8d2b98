"""``tune(cfg)``: Ray Tune over training hyperparameters, each trial a Ray Train ``TorchTrainer`` launched from a
Tune function (the pattern of Ray 2.60's Train V2: ``TuneReportCallback`` forwards every dev evaluation of the
trainer to Tune, so ASHA can stop weak trials early). Optuna's TPE proposes the trials by default.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

from synthret_ray.config import dump_config, set_dotted
from synthret_ray.data import fs
from synthret_ray.training.config import TrainConfig, absolute_paths
from synthret_ray.tuning.config import Distribution, TuneConfig

TRIAL_CPU = 0.01  # Tune needs a non-empty bundle for the trial itself


def _domain(d: Distribution):
    from ray import tune

    if d.type == "loguniform":
        return tune.loguniform(d.low, d.high)
    if d.type == "uniform":
        return tune.uniform(d.low, d.high)
    if d.type == "randint":
        return tune.randint(int(d.low), int(d.high))
    if d.type == "grid":
        return tune.grid_search(d.values)
    return tune.choice(d.values)


def trial_config(base: dict[str, Any], params: dict[str, Any], output_dir: str, trial: str) -> TrainConfig:
    """The trial's TrainConfig: the base with the sampled dotted keys set, in a folder of its own."""
    tree = copy.deepcopy(base)  # the sampled keys go into nested sections that the base shares across trials
    tree.update(output_dir=fs.join(output_dir, "trials"), run_name=trial, export_dir=None)
    # The starting model is the same in every trial: its dev score would only tie them.
    tree["eval"] = {**tree.get("eval", {}), "at_start": False}
    for key, value in params.items():
        set_dotted(tree, key, value)
    return TrainConfig.model_validate(tree)


def run_trial(config: dict[str, Any], base: dict[str, Any], output_dir: str) -> None:
    """Tune function: one TorchTrainer run; its reports (dev metrics per checkpoint) reach Tune."""
    from ray import tune
    from ray.tune.integration.ray_train import TuneReportCallback

    from synthret_ray.training.trainer import train

    cfg = trial_config(base, config, output_dir, tune.get_context().get_trial_id())
    train(cfg, callbacks=[TuneReportCallback()])


def concurrent_trials(cfg: TuneConfig) -> int:
    import ray

    if cfg.max_concurrent_trials:
        return cfg.max_concurrent_trials
    scaling = cfg.train.scaling
    resources = ray.cluster_resources()
    if scaling.use_gpu:
        return max(1, int(resources.get("GPU", 0) // scaling.num_workers))
    # One CPU always stays free for Ray Data's read tasks: reads wait forever when trials hold every CPU.
    per_trial = scaling.num_workers * scaling.cpus_per_worker + TRIAL_CPU
    return max(1, math.floor((resources.get("CPU", 1) - 1) / per_trial))


@dataclass
class TuneResult:
    best_params: dict[str, Any]
    best_metrics: dict[str, Any]
    best_config_path: str
    trials_path: str
    trials: list[dict[str, Any]]


def tune(cfg: TuneConfig) -> TuneResult:
    import ray
    from ray import tune as ray_tune
    from ray.tune import RunConfig, Tuner
    from ray.tune import TuneConfig as RayTuneConfig
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if not ray.is_initialized():
        ray.init()
    output_dir = cfg.output_dir if fs.is_remote(cfg.output_dir) else fs.resolve(cfg.output_dir)[1]
    space = {key: _domain(d) for key, d in cfg.search_space.items()}
    base = absolute_paths(cfg.train)
    search = None
    if cfg.search == "optuna":
        from ray.tune.search.optuna import OptunaSearch

        search = OptunaSearch(seed=cfg.seed)
    scheduler = (
        ASHAScheduler(grace_period=cfg.asha.grace_period, reduction_factor=cfg.asha.reduction_factor)
        if cfg.scheduler == "asha"
        else FIFOScheduler()
    )
    tuner = Tuner(
        # A token CPU share: the trial only drives its TorchTrainer, whose workers hold the real resources.
        # The base config goes in as a constant, so trial names and the search only see the sampled keys.
        ray_tune.with_resources(
            ray_tune.with_parameters(run_trial, base=base, output_dir=output_dir), {"cpu": TRIAL_CPU}
        ),
        param_space=space,
        tune_config=RayTuneConfig(
            metric=cfg.metric,
            mode="max",
            num_samples=cfg.num_samples,
            search_alg=search,
            scheduler=scheduler,
            max_concurrent_trials=concurrent_trials(cfg),
        ),
        run_config=RunConfig(name=cfg.name, storage_path=output_dir),
    )
    grid = tuner.fit()
    if grid.num_errors == len(grid):  # the reason, not Tune's "no best trial found"
        error = grid.errors[0]
        cause = getattr(error, "cause", None) or error  # a RayTaskError carries the trial's own exception
        raise RuntimeError(f"every trial of the search failed; the first: {type(cause).__name__}: {cause}") from error
    best = grid.get_best_result(metric=cfg.metric, mode="max", scope="all")
    best_params = {k: best.config[k] for k in cfg.search_space}
    best_cfg = trial_config(base, best_params, output_dir, "best")
    best_config_path = fs.join(output_dir, "best_config.yaml")
    dump_config(
        best_cfg.model_copy(update={"output_dir": cfg.train.output_dir, "run_name": cfg.train.run_name}),
        best_config_path,
    )
    frame = grid.get_dataframe(filter_metric=cfg.metric, filter_mode="max")
    keep = [
        c
        for c in frame.columns
        if c in ("trial_id", cfg.metric, "training_iteration", "loss") or c.startswith("config/")
    ]
    frame = frame[keep].sort_values(cfg.metric, ascending=False)
    trials_path = fs.join(output_dir, "trials.csv")
    frame.to_csv(trials_path, index=False)
    return TuneResult(best_params, dict(best.metrics or {}), best_config_path, trials_path, frame.to_dict("records"))
