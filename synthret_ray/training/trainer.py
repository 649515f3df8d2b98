"""``synthret train``: the driver. Checks the data, launches Ray Train, exports the best checkpoint.

The driver builds the Ray Dataset and the ``TorchTrainer`` (Train V2); workers run ``loop.train_worker``.
Rerunning with the same ``output_dir`` and ``run_name`` resumes from the last checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ray.train.v2.api.callback import UserCallback

from synthret_ray.config import dump_config
from synthret_ray.data import fs
from synthret_ray.training.config import TrainConfig, absolute_paths
from synthret_ray.training.data import check_training_rows, training_dataset
from synthret_ray.training.loop import MODEL_DIR
from synthret_ray.training.negatives import prepare_negatives

METRICS_LOG = "metrics.jsonl"


@dataclass
class TrainResult:
    export_dir: str
    best_metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)  # every report (one per checkpoint), by step
    rows: int = 0
    skipped: Counter = field(default_factory=Counter)
    wall_seconds: float = 0.0
    resource_hours: dict[str, float] = field(default_factory=dict)  # gpu_hours or worker_cpu_hours of this run


class MetricsLog(UserCallback):
    """Ray Train callback (run on the controller) that keeps every report of rank 0 in
    ``<storage>/<run_name>/metrics.jsonl``: Ray keeps only the metrics of the checkpoints it keeps, and
    training curves need all of them. A resumed run appends to the file it finds."""

    def __init__(self, uri: str):
        self.uri = uri

    def after_report(self, run_context, metrics: list[dict[str, Any]], checkpoint) -> None:
        lines = fs.read_bytes(self.uri).decode("utf-8") if fs.exists(self.uri) else ""
        lines += json.dumps({**metrics[0], "time": time.time()}, default=str) + "\n"
        fs.write_bytes(self.uri, lines.encode("utf-8"))


def read_metrics_log(uri: str) -> list[dict[str, Any]]:
    """Reports of a run by step; a step reported twice (a resume after the report, before the next) keeps
    the last."""
    if not fs.exists(uri):
        return []
    rows = [json.loads(line) for line in fs.read_bytes(uri).decode("utf-8").splitlines() if line.strip()]
    return sorted({row.get("step"): row for row in rows}.values(), key=lambda row: row.get("step") or 0)


def resource_hours(cfg: TrainConfig, wall_seconds: float) -> dict[str, float]:
    workers = cfg.scaling.num_workers
    if cfg.scaling.use_gpu:
        return {"gpu_hours": round(wall_seconds * workers / 3600, 5)}
    return {"worker_cpu_hours": round(wall_seconds * workers * cfg.scaling.cpus_per_worker / 3600, 5)}


def ray_train_loop(config: dict) -> None:
    """Entry point of every Ray Train worker."""
    from synthret_ray.training.loop import train_worker
    from synthret_ray.training.runtime import RayRuntime

    train_worker(TrainConfig.model_validate(config["cfg"]), RayRuntime(), config["steps_per_epoch"])


def steps_per_epoch(cfg: TrainConfig, rows: int) -> int:
    global_batch = cfg.optim.batch_size * cfg.scaling.num_workers
    if rows < global_batch:
        raise ValueError(
            f"{cfg.train_data}: {rows} valid rows, fewer than one global batch "
            f"(optim.batch_size={cfg.optim.batch_size} x scaling.num_workers={cfg.scaling.num_workers})"
        )
    return rows // global_batch


def _storage(cfg: TrainConfig) -> str:
    return cfg.output_dir if fs.is_remote(cfg.output_dir) else os.path.abspath(cfg.output_dir)


def metrics_log(cfg: TrainConfig) -> str:
    return fs.join(_storage(cfg), cfg.run_name, METRICS_LOG)


def export_dir(cfg: TrainConfig) -> str:
    """Where the best model goes: ``export_dir``, else ``<output_dir>/<run_name>/model`` (local or remote)."""
    return cfg.export_dir or fs.join(_storage(cfg), cfg.run_name, "model")


def train(cfg: TrainConfig, callbacks: list | None = None) -> TrainResult:
    """Fit with Ray Train and export the best checkpoint; ``callbacks`` are Ray Train ``UserCallback``s (e.g.
    Tune's ``TuneReportCallback`` when a Tune trial drives this run)."""
    from ray.data import ExecutionOptions
    from ray.train import CheckpointConfig, DataConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    cfg = TrainConfig.model_validate(absolute_paths(cfg))  # the workers do not run where the paths were written
    if cfg.eval.data:  # fail before any worker starts if the dev split is missing or broken
        from synthret_ray.data import load_beir

        load_beir(cfg.eval.data, cfg.eval.split)
    cfg, _ = prepare_negatives(cfg)
    rows, skipped = check_training_rows(cfg.train_data, cfg.stage, cfg.skip_invalid_rows)
    steps = steps_per_epoch(cfg, rows)
    scored = cfg.eval.data is not None
    resources = {"CPU": cfg.scaling.cpus_per_worker, **({"GPU": 1} if cfg.scaling.use_gpu else {})}
    trainer = TorchTrainer(
        train_loop_per_worker=ray_train_loop,
        train_loop_config={"cfg": cfg.model_dump(mode="json"), "steps_per_epoch": steps},
        scaling_config=ScalingConfig(
            num_workers=cfg.scaling.num_workers, use_gpu=cfg.scaling.use_gpu, resources_per_worker=resources
        ),
        run_config=RunConfig(
            name=cfg.run_name,
            storage_path=_storage(cfg),
            checkpoint_config=CheckpointConfig(
                num_to_keep=cfg.checkpoint.num_to_keep,
                checkpoint_score_attribute="ndcg_at_10" if scored else None,
                checkpoint_score_order="max",
            ),
            failure_config=FailureConfig(max_failures=cfg.max_failures),
            callbacks=[MetricsLog(metrics_log(cfg)), *(callbacks or [])],
        ),
        datasets={"train": _ingest(cfg)},
        # A fixed row order, so a resumed run can skip exactly the batches it already trained on.
        dataset_config=DataConfig(execution_options=ExecutionOptions(preserve_order=True)),
    )
    start = time.perf_counter()
    result = trainer.fit()
    wall = time.perf_counter() - start
    checkpoint, best = _best_checkpoint(result, scored)
    # Ray Train V2 keeps the metrics of the checkpoints it keeps (checkpoint.num_to_keep of them).
    kept = sorted((dict(m) for _, m in (result.best_checkpoints or [])), key=lambda m: m.get("step", 0))
    history = read_metrics_log(metrics_log(cfg))
    hours = resource_hours(cfg, wall)
    summary = TrainResult(export_dir(cfg), dict(best), history, rows, skipped, round(wall, 2), hours)
    with checkpoint.as_directory() as ckpt, tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "model"
        shutil.copytree(Path(ckpt) / MODEL_DIR, staged)
        dump_config(cfg, staged / "synthret_train_config.yaml")
        payload = {"best": summary.best_metrics, "rows": rows, "skipped": dict(skipped), "kept_checkpoints": kept}
        (staged / "synthret_train_summary.json").write_text(json.dumps(payload, indent=2, default=str))
        publish_folder(staged, summary.export_dir)
    return summary


def _ingest(cfg: TrainConfig):
    """The training Dataset: streamed while the cluster has CPUs left for Ray Data's read tasks, else read
    up front, since read tasks would wait forever for a CPU that the training workers hold."""
    import ray

    if not ray.is_initialized():
        ray.init()
    ds = training_dataset(cfg.train_data, cfg.stage, cfg.skip_invalid_rows)
    reserved = cfg.scaling.num_workers * cfg.scaling.cpus_per_worker
    if ray.cluster_resources().get("CPU", 0) - reserved < 1:
        ds = ds.materialize()
    return ds


def _best_checkpoint(result, scored: bool):
    if scored and result.best_checkpoints:
        # A tie goes to the later checkpoint: no dev evidence against the training done since.
        return max(result.best_checkpoints, key=lambda cm: (cm[1].get("ndcg_at_10", float("-inf")), cm[1]["step"]))
    if result.checkpoint is None:
        raise RuntimeError("training finished without a checkpoint to export")
    return result.checkpoint, result.metrics or {}


def publish_folder(src: Path, target: str) -> None:
    """Put the staged model folder at ``target``: locally through a sibling folder and a rename, so a failed
    copy never leaves half a model; on a remote filesystem by copying it over the old contents."""
    if fs.is_remote(target):
        import pyarrow.fs as pafs

        filesystem, path = fs.resolve(target)
        filesystem.create_dir(path, recursive=True)
        filesystem.delete_dir_contents(path, missing_dir_ok=True)
        pafs.copy_files(str(src), path, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=filesystem)
        return
    dest = Path(target)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(src, partial)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(partial, dest)


def train_local(
    cfg: TrainConfig, checkpoint_root: str | Path, device: str | None = None, resume_from: str | Path | None = None
):
    """The same loop in this process without Ray (one worker); returns the ``LocalRuntime`` with its history."""
    from synthret_ray.training.data import load_training_rows
    from synthret_ray.training.loop import train_worker
    from synthret_ray.training.runtime import LocalRuntime

    if cfg.scaling.num_workers != 1:
        raise ValueError("train_local runs one worker; set scaling.num_workers=1")
    cfg, _ = prepare_negatives(cfg)
    rows = load_training_rows(cfg.train_data, cfg.stage, cfg.skip_invalid_rows)
    runtime = LocalRuntime(rows.rows, checkpoint_root, device, resume_from)
    train_worker(cfg, runtime, steps_per_epoch(cfg, len(rows.rows)))
    return runtime
