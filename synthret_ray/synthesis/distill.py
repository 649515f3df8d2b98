"""Task ``distill`` (Syntriever stage 1, Kim et al. 2025, arXiv:2502.03824): for each query the teacher writes

  (a) q_cot: the chain-of-thought the query prompts ("Let's think step by step"), the reasoning alone,
  (b) one passage that answers the query accurately (the synthetic positive p+),
  (c) M plausibly irrelevant passages on the same topic (hard negatives p-).

Each unit also carries the query's own relevant passage p_i (``known_positives``: the qrels of a dataset split, or
for a generated query the passage it was written from). The export is the paper's multi-positive group:
positives = [p_i, p+, q_cot] (p_i first, so a one-positive loss such as ``infonce`` takes the labelled document),
negatives = [p-...]. ``verify`` then drops a p+ the teacher rejects into the negatives; this task's own export
trusts p+ so stage 1 can also be trained without verification.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from synthret_ray.synthesis.filters import reject_reason
from synthret_ray.synthesis.task import Outcome, Part, Probs, Task, chat, distinct, parse_passage

PROMPT_VERSION = "distill-v2"  # v2: q_cot is the reasoning alone; units carry p_i
COT_TRIGGER = "Let's think step by step."
COT_SYSTEM = "You explain what a search query is asking for, in two or three sentences."
POSITIVE_SYSTEM = (
    "You write a short passage of two to four sentences that accurately answers the query. "
    "Reply with only the passage."
)
NEGATIVE_SYSTEM = "You write a short passage of two to four sentences. Reply with only the passage."
# Each negative is asked from a different angle, so greedy decoding still gives M different passages.
NEGATIVE_ANGLES = (
    "uses the same key words as the query but is about something else, and does not answer it",
    "is on the same topic as the query but does not answer it",
    "answers a different question about the same subject, not this query",
)
EXAMPLE_QUERY = "what makes sourdough bread rise"
EXAMPLE_COT = (
    "The query asks for the cause of rising in sourdough. Sourdough uses no baker's yeast, so the answer is "
    "the wild yeast and bacteria in the starter, which produce gas during fermentation."
)
EXAMPLE_POSITIVE = (
    "Sourdough rises because its starter holds wild yeast that ferments the flour's sugars and releases carbon "
    "dioxide. The gas is trapped by the gluten network, so the dough expands during proofing."
)
EXAMPLE_NEGATIVES = (
    "Bread rising in popularity: sourdough sales grew by a third last year, and many bakeries now sell a loaf "
    "every few minutes on weekends.",
    "Sourdough bread has a tangy flavour and a chewy crust. It is often served with soup or used for "
    "sandwiches, and it keeps fresh longer than many breads.",
    "Sourdough starter can be kept in the refrigerator and fed once a week. Before baking, it should be fed "
    "and left at room temperature until it is bubbly.",
)


def cot_messages(query: str) -> list[dict[str, str]]:
    return chat(
        COT_SYSTEM, [(f"Query: {EXAMPLE_QUERY}\n{COT_TRIGGER}", EXAMPLE_COT)], f"Query: {query}\n{COT_TRIGGER}"
    )


def positive_messages(query: str) -> list[dict[str, str]]:
    return chat(
        POSITIVE_SYSTEM, [(f"Query: {EXAMPLE_QUERY}\nPassage:", EXAMPLE_POSITIVE)], f"Query: {query}\nPassage:"
    )


def negative_messages(query: str, index: int) -> list[dict[str, str]]:
    angle = NEGATIVE_ANGLES[index % len(NEGATIVE_ANGLES)]
    ask = f"Write a passage that {angle}."
    example = EXAMPLE_NEGATIVES[index % len(EXAMPLE_NEGATIVES)]
    return chat(NEGATIVE_SYSTEM, [(f"Query: {EXAMPLE_QUERY}\n{ask}", example)], f"Query: {query}\n{ask}")


class DistillTask(Task):
    name = "distill"
    prompt_version = PROMPT_VERSION
    max_new_tokens = 120
    columns = {
        "query_id": pa.string(),
        "query": pa.string(),
        "cot_query": pa.string(),
        "positive": pa.string(),
        "negatives": pa.list_(pa.string()),
        "known_positives": pa.list_(pa.string()),  # the query's labelled passages (p_i), not asked to the teacher
    }

    def parts(self, unit: dict[str, Any]) -> list[Part]:
        query = unit["query"]
        parts = [Part("cot", cot_messages(query)), Part("positive", positive_messages(query))]
        parts += [Part(f"negative_{i}", negative_messages(query, i)) for i in range(self.cfg.negatives)]
        return parts

    def assemble(self, unit: dict[str, Any], texts: dict[str, str], probs: Probs | None = None) -> Outcome:
        query, max_words = unit["query"], self.cfg.filters.max_passage_words
        notes = []
        reasoning, error = parse_passage(texts["cot"], min_words=3)
        error = error or reject_reason(reasoning, query, max_words, echo="restate", examples=[EXAMPLE_COT])
        cot_query = None if error else reasoning  # the paper's q_cot: the reasoning, without the query's words
        if error:  # the row still trains on p_i and p+
            notes.append(f"cot: {error}")
        positive, error = parse_passage(texts["positive"])
        fields = {"cot_query": cot_query, "positive": positive, "negatives": []}
        if positive is None:
            return Outcome(fields, "malformed", f"positive: {error}", notes)
        reason = reject_reason(positive, query, max_words, echo="restate", examples=[EXAMPLE_POSITIVE])
        if reason:
            return Outcome(fields, "filtered", f"positive: {reason}", notes)
        negatives = []
        for i in range(self.cfg.negatives):
            negative, error = parse_passage(texts[f"negative_{i}"])
            reason = error or reject_reason(negative, query, max_words, echo="restate", examples=EXAMPLE_NEGATIVES)
            if reason:
                notes.append(f"negative: {reason}")
            else:
                negatives.append(negative)
        kept = distinct([positive, *negatives])[1:]
        notes += ["negative: duplicate"] * (len(negatives) - len(kept))
        fields["negatives"] = kept
        return Outcome(fields, notes=notes)

    def export(self, rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        return {"distill.parquet": training_rows(rows, lambda row: True)}


def training_rows(rows: list[dict[str, Any]], trusted: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """Syntriever's multi-positive groups: positives = p_i (the query's first labelled passage) + p+ if
    ``trusted(row)`` + q_cot (when parsed); a rejected p+ becomes one more hard negative. A query left with no
    positive has nothing to learn from and is not exported (the run folder keeps its row)."""
    out = []
    for row in rows:
        positives = list(row.get("known_positives") or [])[:1]
        negatives = list(row.get("negatives") or [])
        if trusted(row):
            positives.append(row["positive"])
        else:
            negatives.insert(0, row["positive"])
        if row.get("cot_query"):
            positives.append(row["cot_query"])
        if positives:
            out.append({"query": row["query"], "positives": positives, "negatives": negatives})
    return out
