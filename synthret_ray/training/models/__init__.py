"""Trainable models: a bi-encoder and a cross-encoder, both exported as sentence-transformers folders."""

from __future__ import annotations

from synthret_ray.training.models.biencoder import BiEncoder
from synthret_ray.training.models.crossencoder import CrossEncoderScorer

__all__ = ["BiEncoder", "CrossEncoderScorer"]
