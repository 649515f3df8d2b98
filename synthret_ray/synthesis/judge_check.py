"""The judge, measured (``judge_check`` set on a ``verify`` or ``label`` config): the task's own relevance prompt,
engine and threshold asked about labelled (query, passage) pairs instead of the task's units.

Pairs, for a seeded sample of the check split's queries: a passage judged relevant to the query (for a generated
query, the passage it was written from), the top BM25 passage not judged for it (hard: close in words, sometimes
relevant but unjudged, so a lower bound), and a random passage (easy). The report gives the judge's accuracy at its
threshold, the share called relevant per kind, and the AUC of P(relevant) between judged passages and each kind of
other passage (0.5: chance), and the P(relevant) cut that would have separated judged from other passages best (a
value for ``judge_threshold``). It says whether the judge's verdicts mean anything before a run leans on them.

Export: ``judge_check.parquet``, one row per pair (query, passage, kind, label, P(relevant)).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from synthret_ray.synthesis.label import RELEVANT_GRADE, candidate_label, candidate_part
from synthret_ray.synthesis.task import Outcome, Part, Probs, Task

PROMPT_VERSION = "judge-check-v1"
KINDS = ("judged", "top_ranked", "random")  # the judged passage first: what the others are compared with
EXPORT_FILE = "judge_check.parquet"


def auc(positives: list[float], negatives: list[float]) -> float | None:
    """P(a positive outscores a negative), ties counting one half (the Mann-Whitney U statistic over n+ n-)."""
    if not positives or not negatives:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return round(wins / (len(positives) * len(negatives)), 4)


def best_threshold(positives: list[float], negatives: list[float]) -> dict[str, float] | None:
    """The P(relevant) cut with the best balanced accuracy ((share of positives at or above it + share of negatives
    below it) / 2), the lowest such cut; what ``judge_threshold`` could be set to for this judge on data like this."""
    if not positives or not negatives:
        return None
    best = max(
        (((sum(p >= t for p in positives) / len(positives) + sum(n < t for n in negatives) / len(negatives)) / 2, -t)
         for t in sorted(set(positives) | set(negatives))),
    )  # fmt: skip
    return {"threshold": round(-best[1], 4), "balanced_accuracy": round(best[0], 4)}


def _score(row: dict[str, Any]) -> float:
    """What ranks the pairs: P(relevant) where the engine gave it, else the label."""
    return row["label"] if row["p_relevant"] is None else row["p_relevant"]


class JudgeCheckTask(Task):
    name = "judge_check"
    prompt_version = PROMPT_VERSION
    max_new_tokens = 4
    columns = {
        "query_id": pa.string(),
        "query": pa.string(),
        "doc_id": pa.string(),
        "passage": pa.string(),
        "kind": pa.string(),  # judged / top_ranked / random
        "label": pa.int64(),  # the teacher's: 1/0 (or a grade 0-3 with graded_labels)
        "p_relevant": pa.float64(),  # P(yes) (or P(grade >= 2)); null where judged by text
    }

    def parts(self, unit: dict[str, Any]) -> list[Part]:
        return [candidate_part(self.cfg, "verdict", unit["query"], unit["passage"])]

    def assemble(self, unit: dict[str, Any], texts: dict[str, str], probs: Probs | None = None) -> Outcome:
        label, p, notes = candidate_label(self.cfg, "verdict", texts, probs or {})
        if label is None:
            return Outcome({"label": None, "p_relevant": None}, "malformed", "verdict: unreadable label", notes)
        return Outcome({"label": label, "p_relevant": p}, notes=notes)

    def judge_report(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        threshold = RELEVANT_GRADE if self.cfg.graded_labels else 1
        by_kind = {kind: [r for r in rows if r["kind"] == kind] for kind in KINDS}
        scores = {k: [_score(r) for r in rs] for k, rs in by_kind.items()}
        called = {k: [r["label"] >= threshold for r in rs] for k, rs in by_kind.items()}
        right = [c == (kind == "judged") for kind in KINDS for c in called[kind]]
        return {
            "pairs": {kind: len(called[kind]) for kind in KINDS},
            "accuracy": round(sum(right) / len(right), 4) if right else None,
            "share_called_relevant": {kind: round(sum(c) / len(c), 4) if c else None for kind, c in called.items()},
            "auc_judged_vs_top_ranked": auc(scores["judged"], scores["top_ranked"]),
            "auc_judged_vs_random": auc(scores["judged"], scores["random"]),
            "best_threshold": best_threshold(
                [r["p_relevant"] for r in by_kind["judged"] if r["p_relevant"] is not None],
                [r["p_relevant"] for k in KINDS[1:] for r in by_kind[k] if r["p_relevant"] is not None],
            ),
        }

    def export(self, rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        keys = ("query_id", "query", "doc_id", "kind", "label", "p_relevant", "passage")
        return {EXPORT_FILE: [{k: r[k] for k in keys} for r in rows]}
