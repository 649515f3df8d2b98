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
    The losses score cos(q, d) / tau, so the export says ``similarity_fn_name="cosine"`` whatever the base model
    said, and carries the query / document prefixes it was trained with as its ``query`` and ``document``
    prompts, which evaluation applies (``synthret eval`` and the recipes' evaluate stage).
    """

    def __init__(
        self,
        name: str,
        max_seq_length: int = 256,
        gradient_checkpointing: bool = False,
        query_prefix: str = "",
        document_prefix: str = "",
    ):
        super().__init__()
        self.st = load_sentence_transformer(name, device="cpu")
        self.st.max_seq_length = max_seq_length
        self.prefixes = {"query": query_prefix, "document": document_prefix}
        if gradient_checkpointing:
            enable_gradient_checkpointing(self.st)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, texts: list[str], kind: str = "document") -> Tensor:
        """(len(texts), D) embeddings of queries or documents (``kind``), with gradients when training."""
        prefix = self.prefixes[kind]
        features = to_device(self.st.preprocess([prefix + t for t in texts] if prefix else texts), self.device)
        return self.st(features)["sentence_embedding"]

    def save(self, path: str | Path) -> None:
        self.st.similarity_fn_name = "cosine"
        self.st.prompts = {**self.st.prompts, **{k: v for k, v in self.prefixes.items() if v}}
        self.st.save(str(path))
