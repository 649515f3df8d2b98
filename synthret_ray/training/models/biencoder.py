"""Bi-encoder: one shared transformer for queries and documents, mean pooling (a sentence-transformers model)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from synthret_ray.models import load_sentence_transformer
from synthret_ray.training.models.common import enable_gradient_checkpointing, to_device


class BiEncoder(nn.Module):
    """Embeds texts with a sentence-transformers model; ``save`` writes a folder ``SentenceTransformer`` loads.

    A model without a sentence-transformers config (a plain hub encoder) gets mean pooling, the design's default.
    """

    def __init__(self, name: str, max_seq_length: int = 256, gradient_checkpointing: bool = False):
        super().__init__()
        self.st = load_sentence_transformer(name, device="cpu")
        self.st.max_seq_length = max_seq_length
        if gradient_checkpointing:
            enable_gradient_checkpointing(self.st)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, texts: list[str]) -> Tensor:
        """(len(texts), D) embeddings, with gradients when training."""
        features = to_device(self.st.preprocess(texts), self.device)
        return self.st(features)["sentence_embedding"]

    def save(self, path: str | Path) -> None:
        self.st.save(str(path))
