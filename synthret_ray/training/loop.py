"""The per-worker training loop shared by every stage.

Ray Train runs :func:`train_worker` on each worker (``RayRuntime``); it also runs alone in one process
(``LocalRuntime``), which is how it is benchmarked on a GPU machine without Ray. Checkpoints hold the model
(a sentence-transformers folder), the optimizer/schedule state and the position in the data, so a resumed
run continues at the batch after the last checkpoint.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from synthret_ray.training.config import TrainConfig
from synthret_ray.training.losses import get_loss
from synthret_ray.training.models import BiEncoder, CrossEncoderScorer
from synthret_ray.training.optimization import Optimization
from synthret_ray.training.runtime import scratch_dir
from synthret_ray.training.steps import backward_scale, batch_loss, collate, group_rng

MODEL_DIR, STATE_FILE, ENGINE_DIR = "model", "train_state.pt", "deepspeed"


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or inf; the message names the epoch, step and batch."""


class Window:
    """Loss and throughput since the last checkpoint."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.rows, self.start = 0, time.perf_counter()

    def add(self, loss: float, rows: int) -> None:
        self.losses.append(loss)
        self.rows += rows

    def metrics(self) -> dict[str, float]:
        elapsed = time.perf_counter() - self.start
        return {
            "loss": sum(self.losses) / len(self.losses) if self.losses else math.nan,
            "samples_per_s": self.rows / elapsed if elapsed > 0 else 0.0,
        }


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    step_in_epoch: int = 0  # batches consumed in the current epoch
    global_step: int = 0


def build_model(cfg: TrainConfig, source: str) -> nn.Module:
    if cfg.stage == "reranker":
        return CrossEncoderScorer(source, cfg.optim.max_seq_length, cfg.gradient_checkpointing)
    return BiEncoder(
        source, cfg.optim.max_seq_length, cfg.gradient_checkpointing, cfg.query_prefix, cfg.document_prefix
    )


def build_loss(cfg: TrainConfig) -> nn.Module:
    cls = get_loss(cfg.loss_name)
    if cfg.loss_name == "lce":
        return cls()
    if cfg.loss_name == "partial_plackett_luce":
        return cls(cfg.loss.temperature, cfg.loss.regularization)
    return cls(cfg.loss.temperature)


class DevEvaluator:
    """nDCG@10 and Recall@100 on dev queries (never test), computed on rank 0 with the model in training. A
    reranker reranks its first stage's top ``eval.depth`` (retrieved once, here), and each of its reports also
    carries ``first_stage_ndcg_at_10``, that first stage alone on the same dev queries: a reranker scoring below it
    makes the first stage's order worse, and the run can say so before test reranking."""

    def __init__(self, cfg: TrainConfig):
        from synthret_ray.data import load_beir
        from synthret_ray.evaluation import EvalConfig, evaluate_run

        self.cfg = cfg
        self.data = load_beir(cfg.eval.data, cfg.eval.split)
        if cfg.stage != "reranker" and cfg.eval.pool_depth:
            from synthret_ray.evaluation.bm25 import candidate_pool

            self.data = candidate_pool(self.data, cfg.eval.pool_depth)
        self.first_stage: dict[str, float] = {}
        if cfg.stage == "reranker":
            from synthret_ray.evaluation.runner import retrieve

            self.eval_cfg = EvalConfig(
                data=cfg.eval.data,
                split=cfg.eval.split,
                **cfg.eval.first_stage.model_dump(),  # a dense first stage with its encode and index options
                reranker={"model": "in-training", "depth": cfg.eval.depth, "batch_size": cfg.eval.batch_size},
            )
            self.first_run = retrieve(self.eval_cfg, self.data, progress=False)
            metrics, _ = evaluate_run(self.data.qrels, self.first_run)
            self.first_stage = {"first_stage_ndcg_at_10": metrics["ndcg_at_10"]}
        else:
            self.eval_cfg = EvalConfig(
                data=cfg.eval.data,
                split=cfg.eval.split,
                retriever="dense",
                model="in-training",
                # the weights change every time: no cache. No prefixes here: the model's prompts hold the ones
                # training applies (see BiEncoder), and the encoder applies them.
                # PyTorch as trained: an OpenVINO copy would be converted again at every checkpoint
                encode={"batch_size": cfg.eval.batch_size, "cache": False, "backend": "torch"},
            )

    def __call__(self, model: nn.Module) -> dict[str, float]:
        from synthret_ray.evaluation import run_eval
        from synthret_ray.evaluation.dense import DenseEncoder

        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                if isinstance(model, CrossEncoderScorer):
                    return self._reranker(model)
                encoder = DenseEncoder(model.st, self.eval_cfg.encode)
                metrics = run_eval(self.eval_cfg, self.data, progress=False, encoder=encoder).metrics
        finally:
            model.train(was_training)
        return {"ndcg_at_10": metrics["ndcg_at_10"], "recall_at_100": metrics["recall_at_100"], **self.first_stage}

    def _reranker(self, model: CrossEncoderScorer) -> dict[str, float]:
        """The checkpoint as it will be deployed: fused with the first stage at the configured weight, or at the
        best weight of the grid ('dev'); ``ndcg_at_10`` is that, ``cross_encoder_ndcg_at_10`` the weight 1."""
        from synthret_ray.evaluation import evaluate_run
        from synthret_ray.evaluation.fusion import FUSION_GRID, best_weight, fuse, fusion_table
        from synthret_ray.evaluation.rerank import cross_encoder_scores

        head = cross_encoder_scores(self.data, self.first_run, self.eval_cfg.reranker, progress=False, model=model.ce)
        weight = self.cfg.eval.fusion_weight
        table = fusion_table(self.data.qrels, self.first_run, head, FUSION_GRID if weight == "dev" else (weight, 1.0))
        chosen = best_weight(table) if weight == "dev" else weight
        metrics, _ = evaluate_run(self.data.qrels, fuse(self.first_run, head, chosen))
        return {
            "ndcg_at_10": metrics["ndcg_at_10"],
            "recall_at_100": metrics["recall_at_100"],
            "fusion_weight": chosen,
            "cross_encoder_ndcg_at_10": table[1.0],
            **self.first_stage,
        }


def _rng_state() -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _restore(cfg: TrainConfig, checkpoint: Path | None) -> tuple[str, dict | None]:
    """The model source and the saved training state of ``checkpoint`` (None: a fresh start)."""
    if checkpoint is None:
        return cfg.model, None
    if cfg.strategy == "deepspeed":  # weights, optimizer and state come back through engine.load_checkpoint
        return cfg.model, None
    return str(checkpoint / MODEL_DIR), torch.load(checkpoint / STATE_FILE, map_location="cpu", weights_only=False)


def train_worker(cfg: TrainConfig, runtime, steps_per_epoch: int) -> None:
    """Train ``cfg`` on this worker; reports metrics and checkpoints through ``runtime``."""
    torch.manual_seed(cfg.optim.seed)
    total_steps = steps_per_epoch * cfg.optim.epochs
    state = TrainState()
    with runtime.latest_checkpoint() as checkpoint:
        fresh = checkpoint is None
        source, saved = _restore(cfg, checkpoint)
        model = build_model(cfg, source)
        opt = Optimization(cfg, model, total_steps, runtime)
        if checkpoint is not None and opt.deepspeed:
            saved = opt.load_engine(checkpoint / ENGINE_DIR)
        elif saved is not None:
            opt.load_state_dict(saved["optimization"])
        if saved is not None:  # after the model is built: building may draw random numbers (a fresh head)
            state = TrainState(**saved["train_state"])
            _set_rng_state(saved["rng"])
    loss_fn = build_loss(cfg).to(runtime.device)
    reference = None
    if cfg.loss_name == "partial_plackett_luce" and cfg.loss.regularization > 0:
        reference = build_model(cfg, cfg.reference_model or cfg.model).to(runtime.device).eval()
        reference.requires_grad_(False)
    evaluator = DevEvaluator(cfg) if (cfg.eval.data and runtime.rank == 0) else None
    resumed_from = state.global_step
    if fresh and cfg.eval.data and cfg.eval.at_start:  # every rank: a checkpoint report is collective
        _checkpoint(runtime, opt, state, evaluator, None, resumed_from)

    window = Window()
    for epoch in range(state.epoch, cfg.optim.epochs):
        opt.module.train()
        batches = runtime.batches(epoch, cfg.optim.batch_size, cfg.optim.shuffle_buffer, cfg.optim.seed)
        for index, rows in enumerate(batches):
            if index < state.step_in_epoch:  # consumed before the checkpoint this run resumed from
                continue
            if index >= steps_per_epoch:
                break
            batch = collate(cfg, rows, group_rng(cfg.optim.seed, epoch, runtime.rank, index))
            with opt.autocast():
                loss = batch_loss(cfg, opt.module, loss_fn, batch, reference)
            if not torch.isfinite(loss):
                first = rows[0].get("query_id", rows[0].get("query", ""))
                raise NonFiniteLossError(
                    f"loss is {loss.item()} at epoch {epoch}, step {state.global_step} (batch {index} of the epoch, "
                    f"first row {str(first)[:80]!r}); the last good checkpoint is kept"
                )
            opt.backward(loss * backward_scale(cfg, batch))
            opt.step()
            state.step_in_epoch, state.global_step = index + 1, state.global_step + 1
            window.add(loss.item(), len(rows) * runtime.world_size)
            if runtime.rank == 0 and state.global_step % cfg.logging.every_n_steps == 0:
                now = window.metrics()
                # not print(): Ray Train patches it into its logger, and the driver's log got every line twice
                sys.stdout.write(
                    f"[synthret] epoch {epoch + 1}/{cfg.optim.epochs} step {state.global_step}/{total_steps} "
                    f"loss {now['loss']:.4f} lr {opt.lr:.2e} {now['samples_per_s']:.1f} samples/s\n"
                )
                sys.stdout.flush()
            every = cfg.checkpoint.every_n_steps
            if every and state.global_step % every == 0 and state.step_in_epoch < steps_per_epoch:
                _checkpoint(runtime, opt, state, evaluator, window, resumed_from)
                window = Window()
        state.epoch, state.step_in_epoch = epoch + 1, 0
        _checkpoint(runtime, opt, state, evaluator, window, resumed_from)
        window = Window()


def _checkpoint(
    runtime, opt: Optimization, state: TrainState, evaluator, window: Window | None, resumed_from: int
) -> None:
    """Report and save; ``window`` None is the starting model (step 0), which has no training loss yet."""
    metrics: dict[str, Any] = {
        "epoch": state.epoch,
        "step": state.global_step,
        "lr": opt.lr,
        "resumed_from_step": resumed_from,
        **(window.metrics() if window is not None else {}),
    }
    with scratch_dir() as tmp, opt.full_parameters():
        if evaluator is not None:
            metrics.update(evaluator(opt.inner))
        saved = {"train_state": asdict(state), "rng": _rng_state()}
        if opt.deepspeed:
            opt.save_engine(tmp / ENGINE_DIR, saved)
        if runtime.rank == 0:
            opt.inner.save(tmp / MODEL_DIR)
            if not opt.deepspeed:
                torch.save({**saved, "optimization": opt.state_dict()}, tmp / STATE_FILE)
            (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2))
        has_files = any(tmp.iterdir())
        runtime.report(metrics, tmp if has_files else None)
