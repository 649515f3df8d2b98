"""Optimizer, learning-rate schedule, mixed precision and gradient sync: plain DDP or a DeepSpeed ZeRO engine."""

from __future__ import annotations

import copy
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn

from synthret_ray.training.config import TrainConfig

ENGINE_TAG = "engine"  # not "latest": DeepSpeed writes a file of that name beside the tag folder
NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if name.endswith(NO_DECAY) else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def deepspeed_config(cfg: TrainConfig, total_steps: int) -> dict[str, Any]:
    """The DeepSpeed JSON config for ``cfg``; ``deepspeed.config`` in YAML is merged over it."""
    ds, optim = cfg.deepspeed, cfg.optim
    generated = {
        "train_micro_batch_size_per_gpu": optim.batch_size,
        "gradient_accumulation_steps": 1,
        "gradient_clipping": optim.max_grad_norm or 0.0,
        "zero_optimization": {"stage": ds.zero_stage},
        "bf16": {"enabled": cfg.precision == "bf16"},
        "fp16": {"enabled": cfg.precision == "fp16"},
        # torch_adam: torch's AdamW, no JIT-compiled fused op; offloading needs DeepSpeed's CPU Adam instead.
        "optimizer": {
            "type": "AdamW",
            "params": {"lr": optim.lr, "weight_decay": optim.weight_decay, "torch_adam": not ds.offload_optimizer},
        },
        "scheduler": {
            "type": "WarmupDecayLR",
            "params": {
                "total_num_steps": total_steps,
                "warmup_num_steps": max(1, int(total_steps * optim.warmup_ratio)),  # DeepSpeed needs >= 1
                "warmup_max_lr": optim.lr,
                "warmup_min_lr": 0.0,
                "warmup_type": "linear",
            },
        },
        "steps_per_print": 10**9,
    }
    if ds.offload_optimizer:
        generated["zero_optimization"]["offload_optimizer"] = {"device": "cpu"}
    return _merge(generated, ds.config)


class Optimization:
    """``backward(loss)`` then ``step()``; ``module`` is what to call, ``inner`` the unwrapped model to save."""

    def __init__(self, cfg: TrainConfig, model: nn.Module, total_steps: int, runtime) -> None:
        self.cfg, self.runtime = cfg, runtime
        self.deepspeed = cfg.strategy == "deepspeed"
        self.device = runtime.device
        if self.deepspeed:
            import deepspeed

            model = model.to(self.device)
            self.engine, _, _, _ = deepspeed.initialize(
                model=model,
                model_parameters=_param_groups(model, cfg.optim.weight_decay),
                config=deepspeed_config(cfg, total_steps),
            )
            self.module, self.inner = self.engine, self.engine.module
            return
        from transformers import get_linear_schedule_with_warmup

        self.inner = model
        self.module = runtime.prepare(model)
        self.optimizer = torch.optim.AdamW(_param_groups(model, cfg.optim.weight_decay), lr=cfg.optim.lr)
        self.scheduler = get_linear_schedule_with_warmup(
            self.optimizer, int(total_steps * cfg.optim.warmup_ratio), max(total_steps, 1)
        )
        self.scaler = torch.amp.GradScaler(enabled=cfg.precision == "fp16")

    def autocast(self):
        if self.deepspeed or self.cfg.precision == "fp32":
            return nullcontext()
        dtype = torch.bfloat16 if self.cfg.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def backward(self, loss: torch.Tensor) -> None:
        if self.deepspeed:
            self.engine.backward(loss)
        else:
            self.scaler.scale(loss).backward()

    def step(self) -> None:
        if self.deepspeed:
            self.engine.step()
            return
        if self.cfg.optim.max_grad_norm:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.inner.parameters(), self.cfg.optim.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    @property
    def lr(self) -> float:
        if self.deepspeed:
            return float(self.engine.get_lr()[0])
        return float(self.scheduler.get_last_lr()[0])

    @contextmanager
    def full_parameters(self):
        """All parameters materialized on every worker (ZeRO-3 shards them) for saving or evaluating."""
        if self.deepspeed and self.cfg.deepspeed.zero_stage == 3:
            import deepspeed

            with deepspeed.zero.GatheredParameters(list(self.inner.parameters()), modifier_rank=None):
                yield
        else:
            yield

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])

    def save_engine(self, path: Path, client_state: dict) -> None:
        self.engine.save_checkpoint(str(path), tag=ENGINE_TAG, client_state=client_state)

    def load_engine(self, path: Path) -> dict:
        _, client_state = self.engine.load_checkpoint(str(path), tag=ENGINE_TAG)
        return client_state or {}
