"""Task ``queries``: search queries that a passage answers (InPars / Promptagator style, few-shot).

With a 135M-parameter teacher a bare instruction makes the model copy the passage; a system message that asks
for a query only, plus worked examples as previous chat turns, gives real queries. Echoes are filtered anyway.
The default examples are web search queries; ``query_instruction`` and ``query_examples`` fit them to the style of
the queries the retriever will serve (questions, claims...), as Promptagator's few task-specific examples do:
with web-query examples Qwen2.5-Coder-1.5B copied Cranfield's titles as "queries" for 43% of its passages.

Export: a BEIR ``queries.jsonl`` + ``qrels/train.tsv`` (each query judged relevant to its source passage) and
``pairs.parquet`` (query, positive) for the ``pairs`` training stage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from synthret_ray.engines.base import ChatRequest, SamplingParams
from synthret_ray.synthesis.filters import normalize, reject_reason
from synthret_ray.synthesis.task import Outcome, Part, Probs, Task, chat

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
MIN_QUERY_WORDS = 2
_PREFIX = re.compile(r"^\s*(?:(?:search\s+)?query\s*\d*\s*[:\-]|\d+[.)]|[-*•])\s*", re.IGNORECASE)


def messages(
    passage: str, system: str | None = None, examples: list[tuple[str, str]] | None = None
) -> list[dict[str, str]]:
    shots = [(f"Passage: {p}\nQuery:", q) for p, q in (examples or FEW_SHOT)]
    return chat(system or SYSTEM, shots, f"Passage: {passage}\nQuery:")


def build_request(passage: str, sampling: SamplingParams) -> ChatRequest:
    return ChatRequest(messages(passage), sampling)


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


class QueriesTask(Task):
    name = "queries"
    prompt_version = PROMPT_VERSION
    max_new_tokens = 32
    columns = {"doc_id": pa.string(), "passage": pa.string(), "sample": pa.int64(), "query": pa.string()}

    @property
    def examples(self) -> list[tuple[str, str]]:
        return [(e.passage, e.query) for e in self.cfg.query_examples] if self.cfg.query_examples else FEW_SHOT

    def shown(self, sample: int) -> list[tuple[str, str]]:
        """The examples in sample ``sample``'s prompt: all, or its own run of ``examples_per_prompt``."""
        examples, per_prompt = self.examples, self.cfg.examples_per_prompt
        if per_prompt is None:
            return examples
        start = sample * per_prompt
        return [examples[(start + i) % len(examples)] for i in range(per_prompt)]

    def parts(self, unit: dict[str, Any]) -> list[Part]:
        shown = self.shown(int(unit.get("sample") or 0))
        return [Part("query", messages(unit["passage"], self.cfg.query_instruction, shown))]

    def assemble(self, unit: dict[str, Any], texts: dict[str, str], probs: Probs | None = None) -> Outcome:
        parsed = parse(texts["query"])
        if parsed.query is None:
            return Outcome({"query": None}, "malformed", parsed.error)
        examples = [q for _, q in self.examples]
        reason = reject_reason(parsed.query, unit["passage"], self.cfg.filters.max_query_words, examples=examples)
        if reason:
            return Outcome({"query": parsed.query}, "filtered", reason)
        return Outcome({"query": parsed.query})

    def skip_reason(self, unit: dict[str, Any]) -> str | None:
        return None if unit["passage"].strip() else "empty_input"

    def dedupe_key(self, fields: dict[str, Any]) -> str | None:
        return normalize(fields["query"] or "") or None

    def export(self, rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        queries = [{"_id": f"q-{row['id']}", "text": row["query"], "doc_id": row["doc_id"]} for row in rows]
        return {
            "queries.jsonl": [{"_id": q["_id"], "text": q["text"]} for q in queries],
            "qrels/train.tsv": [{"query-id": q["_id"], "corpus-id": q["doc_id"], "score": 1} for q in queries],
            "pairs.parquet": [{"query": row["query"], "positive": row["passage"]} for row in rows],
        }
