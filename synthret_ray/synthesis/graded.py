"""Task ``graded`` (SyCL, graded relevance): for each query the teacher writes one document per relevance level

  3  fully and directly answers the query
  2  mostly answers it, leaving part of the answer out
  1  on the query's topic, but does not answer it
  0  about something unrelated

and the label of a document is its level. With ``judged_in_list`` the query's judged passages (a generated
query's source passage) open the list at the highest level: real text anchors the top of the graded scale, as the
source passage is the positive of InPars-style generated queries, and a query whose teacher documents are mostly
unusable still gives a list. Export: ``listwise.parquet`` (query, documents, labels) for the list-wise
Wasserstein stage. A row needs at least two documents with different levels to be kept.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from synthret_ray.synthesis.filters import reject_reason
from synthret_ray.synthesis.task import Outcome, Part, Probs, Task, chat, distinct, parse_passage

PROMPT_VERSION = "graded-v1"
SYSTEM = "You write short passages of two to four sentences for search evaluation. Reply with only the passage."
LEVELS = {
    3: "fully and directly answers the query",
    2: "mostly answers the query but leaves out part of the answer",
    1: "is on the query's topic but does not answer it",
    0: "is about an unrelated topic",
}
EXAMPLE_QUERY = "what makes sourdough bread rise"
EXAMPLES = {
    3: "Sourdough rises because wild yeast in its starter ferments the flour's sugars and releases carbon dioxide, "
    "which the gluten traps so the dough expands.",
    2: "Sourdough starter contains wild yeast that ferments the dough. This fermentation is what makes the loaf "
    "larger, although it takes longer than with baker's yeast.",
    1: "Sourdough bread has a tangy flavour and a chewy crust, and bakers often score the top before baking.",
    0: "The Great Barrier Reef, off the coast of Queensland, is the world's largest coral reef system.",
}


def level_messages(query: str, level: int) -> list[dict[str, str]]:
    ask = f"Write a passage that {LEVELS[level]}."
    return chat(SYSTEM, [(f"Query: {EXAMPLE_QUERY}\n{ask}", EXAMPLES[level])], f"Query: {query}\n{ask}")


class GradedTask(Task):
    name = "graded"
    prompt_version = PROMPT_VERSION
    max_new_tokens = 120
    columns = {
        "query_id": pa.string(),
        "query": pa.string(),
        "documents": pa.list_(pa.string()),
        "labels": pa.list_(pa.int64()),
        "known_positives": pa.list_(pa.string()),  # judged passages of the query, not written by the teacher
    }

    @property
    def uses_judged(self) -> bool:
        return self.cfg.judged_in_list

    def parts(self, unit: dict[str, Any]) -> list[Part]:
        return [Part(f"level_{level}", level_messages(unit["query"], level)) for level in self.cfg.levels]

    def assemble(self, unit: dict[str, Any], texts: dict[str, str], probs: Probs | None = None) -> Outcome:
        documents = distinct(unit.get("known_positives") or [])
        labels, notes = [max(self.cfg.levels)] * len(documents), []
        for level in self.cfg.levels:
            passage, error = parse_passage(texts[f"level_{level}"])
            reason = error or reject_reason(
                passage, unit["query"], self.cfg.filters.max_passage_words, echo="restate", examples=EXAMPLES.values()
            )
            if reason:
                notes.append(f"level_{level}: {reason}")
            elif len(distinct([*documents, passage])) == len(documents):
                notes.append(f"level_{level}: duplicate")
            else:
                documents.append(passage)
                labels.append(level)
        fields = {"documents": documents, "labels": labels}
        if len(set(labels)) < 2:
            return Outcome(fields, "filtered", "fewer than two usable levels", notes)
        return Outcome(fields, notes=notes)

    def export(self, rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        return {
            "listwise.parquet": [
                {"query": row["query"], "documents": list(row["documents"]), "labels": list(row["labels"])}
                for row in rows
            ]
        }
