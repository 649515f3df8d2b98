"""synthret_ray: dense retrievers and rerankers trained on LLM-synthesized data, at cluster scale on Ray."""

from __future__ import annotations

__version__ = "0.1.0"
