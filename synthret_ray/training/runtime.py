"""Where the per-worker loop runs: inside Ray Train, or alone in one process (no Ray needed)."""

from __future__ import annotations

import random
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn


class RayRuntime:
    """A Ray Train worker: rank, device, dataset shard, checkpoints and reports go through ``ray.train``."""

    def __init__(self) -> None:
        import ray.train
        import ray.train.torch

        ctx = ray.train.get_context()
        self.rank, self.world_size = ctx.get_world_rank(), ctx.get_world_size()
        self.device = ray.train.torch.get_device()
        self._shard = ray.train.get_dataset_shard("train")

    def batches(self, epoch: int, batch_size: int, shuffle_buffer: int, seed: int) -> Iterator[list[dict]]:
        for batch in self._shard.iter_batches(
            batch_size=batch_size,
            batch_format="pandas",
            drop_last=True,  # every worker takes the same number of equal batches: gathers line up
            local_shuffle_buffer_size=shuffle_buffer or None,
            local_shuffle_seed=(seed + epoch) if shuffle_buffer else None,
        ):
            yield batch.to_dict("records")

    @contextmanager
    def latest_checkpoint(self) -> Iterator[Path | None]:
        import ray.train

        checkpoint = ray.train.get_checkpoint()
        if checkpoint is None:
            yield None
            return
        with checkpoint.as_directory() as path:
            yield Path(path)

    def report(self, metrics: dict[str, Any], checkpoint_dir: Path | None) -> None:
        import ray.train

        checkpoint = ray.train.Checkpoint.from_directory(str(checkpoint_dir)) if checkpoint_dir else None
        ray.train.report(metrics, checkpoint=checkpoint)

    def prepare(self, model: nn.Module) -> nn.Module:
        import ray.train.torch

        # BERT-style encoders carry a pooler that mean pooling never uses: DDP must tolerate unused parameters.
        return ray.train.torch.prepare_model(model, parallel_strategy_kwargs={"find_unused_parameters": True})


class LocalRuntime:
    """One process, no Ray: rows in memory, checkpoints copied under ``checkpoint_root``.

    Used to benchmark the exact training loop on a GPU machine where Ray is not installed.
    """

    def __init__(
        self,
        rows: list[dict],
        checkpoint_root: str | Path,
        device: str | None = None,
        resume_from: str | Path | None = None,
    ):
        self.rank, self.world_size = 0, 1
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.rows = rows
        self.checkpoint_root = Path(checkpoint_root)
        self.resume_from = Path(resume_from) if resume_from else None
        self.history: list[dict[str, Any]] = []
        self.checkpoints: list[Path] = []

    def batches(self, epoch: int, batch_size: int, shuffle_buffer: int, seed: int) -> Iterator[list[dict]]:
        order = list(range(len(self.rows)))
        if shuffle_buffer:
            random.Random(seed + epoch).shuffle(order)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            yield [self.rows[i] for i in order[start : start + batch_size]]

    @contextmanager
    def latest_checkpoint(self) -> Iterator[Path | None]:
        yield self.resume_from

    def report(self, metrics: dict[str, Any], checkpoint_dir: Path | None) -> None:
        self.history.append(dict(metrics))
        if checkpoint_dir is not None:
            target = self.checkpoint_root / f"checkpoint_{len(self.checkpoints):06d}"
            shutil.copytree(checkpoint_dir, target)
            self.checkpoints.append(target)

    def prepare(self, model: nn.Module) -> nn.Module:
        return model.to(self.device)


@contextmanager
def scratch_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="synthret-ckpt-") as tmp:
        yield Path(tmp)
