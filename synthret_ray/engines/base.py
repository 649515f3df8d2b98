"""The engine interface every synthesis task talks to.

An engine turns a batch of :class:`ChatRequest` into the same number of :class:`Completion`, in order. It never
raises for one bad request: the completion carries ``error`` instead, so a batch always yields a row per input.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
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
    # A closed answer's probability per choice, read from its first token (engines that expose log-probabilities)
    choice_probs: dict[str, float] | None = None


# Alternatives of a closed answer's first token that engines return: enough to hold every choice's start.
TOP_LOGPROBS = 20


def choice_probabilities(first_token: Iterable[tuple[str, float]], choices: Sequence[str]) -> dict[str, float] | None:
    """P(choice) from the alternatives for the answer's first token, (token text, log-probability): an alternative
    counts for the one choice it starts, or spells with trailing punctuation ("yes", " Yes", "y", "yes."), case and
    spaces aside; the masses are normalised over the choices. None when no alternative names a choice.
    A judge's verdict then carries its confidence, which a threshold turns into a label; the sampled text alone
    hides it (a 1.5B judge answering "yes" to everything still ranks pairs by P(yes))."""
    folded = [c.strip().casefold() for c in choices]
    mass = dict.fromkeys(choices, 0.0)
    for token, logprob in first_token:
        text = token.strip().casefold()
        if not text or math.isinf(logprob):
            continue
        named = [
            c for c, f in zip(choices, folded, strict=True)
            if f.startswith(text) or (text.startswith(f) and not text[len(f)].isalnum())
        ]  # fmt: skip
        if len(named) == 1:
            mass[named[0]] += math.exp(logprob)
    total = sum(mass.values())
    return {c: m / total for c, m in mass.items()} if total > 0 else None


class EngineError(RuntimeError):
    """An engine that cannot run at all (missing model, unreachable endpoint, missing key): stops before any row."""


class Engine(Protocol):
    name: str
    model: str
    per_request_seed: bool  # False: one seed per generate() call (batched local generation)

    def generate(self, requests: list[ChatRequest]) -> list[Completion]: ...
