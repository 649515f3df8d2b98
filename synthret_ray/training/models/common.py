"""Pieces both model kinds share: moving tokenized features and enabling gradient checkpointing."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def to_device(features: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in features.items()}


def enable_gradient_checkpointing(module: nn.Module) -> None:
    """Turn it on in the first transformers model inside ``module``; an error if there is none."""
    from transformers import PreTrainedModel

    for sub in module.modules():
        if isinstance(sub, PreTrainedModel):
            sub.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            return
    raise ValueError("gradient_checkpointing: no transformers model found inside the encoder")
