"""Task ``verify`` (Syntriever self-verification): the teacher is asked whether each synthetic positive of a
``distill`` run answers its query. ``yes`` keeps it as a positive; ``no`` relabels it as a hard negative; an
answer that is neither makes the row ``malformed``, and it is left out of the export.

Export: ``distill.parquet`` with the verified groups (positives = p_i + verified p+ + q_cot; a rejected p+ is the
first hard negative).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from synthret_ray.synthesis.distill import DistillTask, training_rows
from synthret_ray.synthesis.task import YES_NO, Outcome, Part, Task, chat, parse_yes_no

PROMPT_VERSION = "verify-v1"
SYSTEM = "You judge search results. Answer with one word: yes or no."
EXAMPLES = [
    (
        "Query: what makes sourdough bread rise\nPassage: Sourdough rises because wild yeast in the starter "
        "ferments sugars and releases carbon dioxide.\nDoes the passage answer the query?",
        "yes",
    ),
    (
        "Query: what makes sourdough bread rise\nPassage: Sourdough sales grew by a third last year in "
        "many bakeries.\nDoes the passage answer the query?",
        "no",
    ),
]


def relevance_messages(query: str, passage: str) -> list[dict[str, str]]:
    return chat(SYSTEM, EXAMPLES, f"Query: {query}\nPassage: {passage}\nDoes the passage answer the query?")


class VerifyTask(Task):
    name = "verify"
    prompt_version = PROMPT_VERSION
    max_new_tokens = 4
    columns = {**DistillTask.columns, "verdict": pa.string()}  # the distill row, plus the teacher's verdict

    def parts(self, unit: dict[str, Any]) -> list[Part]:
        return [Part("verdict", relevance_messages(unit["query"], unit["positive"]), YES_NO)]

    def assemble(self, unit: dict[str, Any], texts: dict[str, str]) -> Outcome:
        verdict = parse_yes_no(texts["verdict"])
        if verdict is None:
            return Outcome({"verdict": None}, "malformed", "verdict: neither yes nor no")
        return Outcome({"verdict": verdict}, notes=[f"verdict: {verdict}"])

    def export(self, rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        return {"distill.parquet": training_rows(rows, lambda row: row["verdict"] == "yes")}
