"""Task ``queries``: search queries that a passage answers (InPars / Promptagator style, few-shot).

With a 135M-parameter teacher a bare instruction makes the model copy the passage; a system message that asks
for a query only, plus worked examples as previous chat turns, gives real queries. Echoes are filtered anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from synthret_ray.engines.base import ChatRequest, SamplingParams

PROMPT_VERSION = "queries-v1"
SYSTEM = "You write short web search queries. Reply with only the query."
FEW_SHOT = [
    (
        "Sourdough bread is made by fermenting dough with a starter of wild yeast and lactic acid bacteria, "
        "which gives it a sour taste and helps it rise.",
        "what makes sourdough bread rise",
    ),
    (
        "The Great Barrier Reef, off the coast of Queensland, is the world's largest coral reef system and can "
        "be seen from outer space.",
        "largest coral reef system in the world",
    ),
]
MAX_QUERY_WORDS = 24
MIN_QUERY_WORDS = 2
_PREFIX = re.compile(r"^\s*(?:(?:search\s+)?query\s*\d*\s*[:\-]|\d+[.)]|[-*•])\s*", re.IGNORECASE)


def build_request(passage: str, sampling: SamplingParams) -> ChatRequest:
    messages = [{"role": "system", "content": SYSTEM}]
    for example, query in FEW_SHOT:
        messages += [
            {"role": "user", "content": f"Passage: {example}\nQuery:"},
            {"role": "assistant", "content": query},
        ]
    messages.append({"role": "user", "content": f"Passage: {passage}\nQuery:"})
    return ChatRequest(messages, sampling)


@dataclass(frozen=True)
class Parsed:
    query: str | None
    error: str | None = None  # why the output is malformed; the raw text is kept in the row


def parse(text: str) -> Parsed:
    """The first non-empty line, without list markers, a "Query:" prefix or wrapping quotes."""
    for line in text.splitlines():
        line = _PREFIX.sub("", line).strip().strip("\"'`“”").strip()
        if line:
            words = line.split()
            if len(words) < MIN_QUERY_WORDS:
                return Parsed(None, f"fewer than {MIN_QUERY_WORDS} words")
            return Parsed(line)
    return Parsed(None, "no text")
