"""Cross-encoder: a sequence-classification head giving one score per (query, document) pair."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from synthret_ray.models import resolve_model
from synthret_ray.training.models.common import enable_gradient_checkpointing, to_device


class CrossEncoderScorer(nn.Module):
    """Scores pairs with a sentence-transformers ``CrossEncoder`` (one logit); ``save`` writes a folder that
    ``CrossEncoder(path)`` loads. Starting from a bi-encoder checkpoint (e.g. ``minilm``) adds a fresh head."""

    def __init__(self, name: str, max_length: int = 512, gradient_checkpointing: bool = False):
        super().__init__()
        from sentence_transformers import CrossEncoder

        resolved = resolve_model(name)
        self.ce = CrossEncoder(
            resolved.source, num_labels=1, max_length=max_length, device="cpu", local_files_only=resolved.local
        )
        if gradient_checkpointing:
            enable_gradient_checkpointing(self.ce)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, pairs: list[tuple[str, str]]) -> Tensor:
        """(len(pairs),) raw scores (logits)."""
        features = to_device(self.ce.preprocess(pairs), self.device)
        return self.ce(features)["scores"].view(-1)

    def save(self, path: str | Path) -> None:
        self.ce.save(str(path))
