"""The engine interface every synthesis task talks to.

An engine turns a batch of :class:`ChatRequest` into the same number of :class:`Completion`, in order. It never
raises for one bad request: the completion carries ``error`` instead, so a batch always yields a row per input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pydantic import Field

from synthret_ray.config import StrictModel


class SamplingParams(StrictModel):
    max_new_tokens: int = Field(64, gt=0, description="Tokens generated per request.")
    temperature: float = Field(0.0, ge=0, description="0 is greedy decoding.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass (used when temperature > 0).")
    seed: int = Field(0, description="Sampling seed, recorded in the provenance of every row.")


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict[str, str]]  # [{"role": "system"|"user"|"assistant", "content": ...}]
    sampling: SamplingParams = field(default_factory=SamplingParams)
    choices: tuple[str, ...] | None = None  # a closed answer: enforced by engines with structured output


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0  # request latency: from its submission to its last token (requests overlap)
    error: str | None = None  # set instead of raising: the row is kept and counted as failed
    truncated_prompt: bool = False  # the prompt was cut to fit the model's context


class EngineError(RuntimeError):
    """An engine that cannot run at all (missing model, unreachable endpoint, missing key): stops before any row."""


class Engine(Protocol):
    name: str
    model: str
    per_request_seed: bool  # False: one seed per generate() call (batched local generation)

    def generate(self, requests: list[ChatRequest]) -> list[Completion]: ...
