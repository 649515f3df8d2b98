"""Task ``verify`` (Syntriever self-verification): the teacher is asked whether each synthetic positive of a
``distill`` run answers its query. With ``judge=probability`` (the default) the verdict is ``yes`` when P(yes),
read from the answer token's log-probabilities, reaches ``judge_threshold``; with ``judge=text`` it is the answer's
word. ``yes`` keeps p+ as a positive; ``no`` relabels it as a hard negative; an answer that is neither makes the
row ``malformed``, and it is left out of the export.

Export: ``distill.parquet`` with the verified groups (positives = p_i + verified p+ + q_cot; a rejected p+ is the
first hard negative).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from synthret_ray.synthesis.distill import DistillTask, training_rows
from synthret_ray.synthesis.task import (
    NO_PROBABILITY,
    YES_NO,
    Outcome,
    Part,
    Probs,
    Task,
    chat,
    judged_probability,
    parse_yes_no,
)

PROMPT_VERSION = "verify-v2"  # v2: the verdict from P(yes); the question is configurable
SYSTEM = "You judge search results. Answer with one word: yes or no."
EXAMPLES = [
    (
        "what makes sourdough bread rise",
        "Sourdough rises because wild yeast in the starter ferments sugars and releases carbon dioxide.",
        "yes",
    ),
    ("what makes sourdough bread rise", "Sourdough sales grew by a third last year in many bakeries.", "no"),
]


def relevance_messages(query: str, passage: str, question: str) -> list[dict[str, str]]:
    def ask(q: str, p: str) -> str:
        return f"Query: {q}\nPassage: {p}\n{question}"

    return chat(SYSTEM, [(ask(q, p), answer) for q, p, answer in EXAMPLES], ask(query, passage))


class VerifyTask(Task):
    name = "verify"
    prompt_version = PROMPT_VERSION
    max_new_tokens = 4
    # the distill row, plus the teacher's verdict and P(yes) (null when judged by text)
    columns = {**DistillTask.columns, "verdict": pa.string(), "p_yes": pa.float64()}

    def parts(self, unit: dict[str, Any]) -> list[Part]:
        return [Part("verdict", relevance_messages(unit["query"], unit["positive"], self.cfg.judge_question), YES_NO)]

    def assemble(self, unit: dict[str, Any], texts: dict[str, str], probs: Probs | None = None) -> Outcome:
        p_yes = judged_probability(self.cfg, probs, "verdict", "yes")
        notes = []
        if p_yes is not None:
            verdict = "yes" if p_yes >= self.cfg.judge_threshold else "no"
        else:
            notes += [NO_PROBABILITY] if self.cfg.judge == "probability" else []
            verdict = parse_yes_no(texts["verdict"])
        if verdict is None:
            return Outcome({"verdict": None, "p_yes": None}, "malformed", "verdict: neither yes nor no", notes)
        return Outcome({"verdict": verdict, "p_yes": p_yes}, notes=[*notes, f"verdict: {verdict}"])

    def judge_report(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        probs = [r["p_yes"] for r in rows if r.get("p_yes") is not None]
        return {
            "rows": len(rows),
            "share_yes": round(sum(r["verdict"] == "yes" for r in rows) / len(rows), 4) if rows else None,
            "mean_p_yes": round(sum(probs) / len(probs), 4) if probs else None,
        }

    def export(self, rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        return {"distill.parquet": training_rows(rows, lambda row: row["verdict"] == "yes")}
