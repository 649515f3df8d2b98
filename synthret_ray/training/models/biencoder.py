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
    The losses score cos(q, d) / tau, so the model says ``similarity_fn_name="cosine"`` from the start (dev
    evaluation and the export score as training does) whatever the base model said, and its ``query`` and
    ``document`` prompts are the prefixes training applies (given ones, else the base model's own), which
    evaluation applies too (``synthret eval``, the recipes' evaluate stage, dev evaluation).
    """

    def __init__(
        self,
        name: str,
        max_seq_length: int = 256,
        gradient_checkpointing: bool = False,
        query_prefix: str | None = None,
        document_prefix: str | None = None,
    ):
        super().__init__()
        self.st = load_sentence_transformer(name, device="cpu")
        self.st.max_seq_length = max_seq_length
        self.st.similarity_fn_name = "cosine"
        own = self.st.prompts or {}
        self.prefixes = {
            "query": own.get("query", "") if query_prefix is None else query_prefix,
            "document": own.get("document", "") if document_prefix is None else document_prefix,
        }
        self.st.prompts = {**own, **self.prefixes}
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
        self.st.save(str(path))
