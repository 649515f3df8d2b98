"""LLM engines behind one interface: chat messages + sampling in; text, token counts, timing or an error out."""

from __future__ import annotations

from synthret_ray.engines.base import ChatRequest, Completion, SamplingParams

__all__ = ["ChatRequest", "Completion", "SamplingParams"]
