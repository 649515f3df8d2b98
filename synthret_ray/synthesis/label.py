"""Task ``label`` (synthetic-query reranker): given a query and its retrieved candidates (BM25 or a dense
model, top k), the teacher classifies each candidate as relevant or not (or grades it 0-3 with
``graded_labels``; grade >= 2 counts as relevant). With ``judge=probability`` (the default) a candidate is
relevant when P(yes) reaches ``judge_threshold``, and a grade is the expected grade under the answer token's
probabilities, rounded; ``p_relevant`` keeps P(yes) (P(grade >= 2) when graded) for each candidate.

The query's judged documents (the passage a generated query was written from, or the train qrels of a dataset's
own training query) are known positives: they are stored with the row and win over the teacher's label.

Export: ``reranker.parquet``, one LCE group per positive (known ones and candidates judged relevant):
(query, positive, negatives = the other candidates judged not relevant). A query with no positive or no
irrelevant candidate gives no group.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from synthret_ray.synthesis.task import (
    GRADES,
    NO_PROBABILITY,
    YES_NO,
    CandidateTask,
    Outcome,
    Part,
    Probs,
    chat,
    distinct,
    parse_grade,
    parse_yes_no,
)
from synthret_ray.synthesis.verify import relevance_messages

PROMPT_VERSION = "label-v2"  # v2: labels from the answer probabilities; the question is configurable
GRADE_SYSTEM = (
    "You grade search results from 0 to 3: 3 answers the query fully, 2 mostly, 1 is on topic "
    "but does not answer it, 0 is unrelated. Reply with only the grade."
)
GRADE_EXAMPLES = [
    (
        "Query: what makes sourdough bread rise\nPassage: Wild yeast in the starter releases carbon dioxide, "
        "which makes sourdough rise.\nGrade:",
        "3",
    ),
    ("Query: what makes sourdough bread rise\nPassage: Sourdough has a tangy flavour.\nGrade:", "1"),
]
RELEVANT_GRADE = 2


def grade_messages(query: str, passage: str) -> list[dict[str, str]]:
    return chat(GRADE_SYSTEM, GRADE_EXAMPLES, f"Query: {query}\nPassage: {passage}\nGrade:")


def candidate_part(cfg, key: str, query: str, passage: str) -> Part:
    """The prompt that judges one (query, passage): a grade 0-3 (``graded_labels``) or yes / no."""
    if cfg.graded_labels:
        return Part(key, grade_messages(query, passage), GRADES)
    return Part(key, relevance_messages(query, passage, cfg.judge_question), YES_NO)


def candidate_label(cfg, key: str, texts: dict[str, str], probs: Probs) -> tuple[int | None, float | None, list[str]]:
    """The label of part ``key`` (1/0, or a grade), P(relevant) when read from probabilities, and notes; label None
    when the answer could not be read."""
    if cfg.judge == "probability" and key in probs:
        if cfg.graded_labels:
            label = round(sum(int(g) * probs[key].get(g, 0.0) for g in GRADES))
            return label, sum(probs[key].get(g, 0.0) for g in GRADES if int(g) >= RELEVANT_GRADE), []
        p = probs[key].get("yes", 0.0)
        return int(p >= cfg.judge_threshold), p, []
    notes = [NO_PROBABILITY] if cfg.judge == "probability" else []
    if cfg.graded_labels:
        return parse_grade(texts[key]), None, notes
    verdict = parse_yes_no(texts[key])
    return (None if verdict is None else int(verdict == "yes")), None, notes


class LabelTask(CandidateTask):
    name = "label"
    prompt_version = PROMPT_VERSION
    max_new_tokens = 4
    columns = {
        **CandidateTask.columns,
        "known_positives": pa.list_(pa.string()),  # judged documents of the query, not asked to the teacher
        "labels": pa.list_(pa.int64()),  # 1/0 (or grades 0-3); -1 where the answer could not be read
        "p_relevant": pa.list_(pa.float64()),  # P(yes) (or P(grade >= 2)); null where judged by text
    }

    def parts(self, unit: dict[str, Any]) -> list[Part]:
        return [candidate_part(self.cfg, f"c{i}", unit["query"], d) for i, d in enumerate(unit["documents"])]

    def assemble(self, unit: dict[str, Any], texts: dict[str, str], probs: Probs | None = None) -> Outcome:
        labels, relevant, notes = [], [], []
        for i in range(len(unit["documents"])):
            label, p, said = candidate_label(self.cfg, f"c{i}", texts, probs or {})
            notes += said
            if label is None:
                notes.append("candidate: unreadable label")
                label = -1
            labels.append(label)
            relevant.append(p)
        fields = {"labels": labels, "p_relevant": relevant}
        if all(label < 0 for label in labels):
            return Outcome(fields, "malformed", "no candidate label could be read", notes)
        return Outcome(fields, notes=notes)

    def judge_report(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The judge against what is known: a query's judged passages (the passage a generated query was written
        from) among its candidates should be called relevant and outscore the other candidates (mostly not
        relevant): ``known_judged_relevant`` is the share that were, ``auc_known_vs_other`` the probability that a
        known positive outscores another read candidate of its query (by P(relevant), else by label)."""
        threshold = RELEVANT_GRADE if self.cfg.graded_labels else 1
        hits, wins, pairs, judged = [], 0.0, 0, []
        for row in rows:
            known = set(row.get("known_positives") or [])
            probs = row.get("p_relevant") or [None] * len(row["labels"])
            read = [
                (label if p is None else p, doc in known, label)
                for doc, label, p in zip(row["documents"], row["labels"], probs, strict=True)
                if label >= 0
            ]
            judged += [label >= threshold for _, _, label in read]
            hits += [label >= threshold for _, is_known, label in read if is_known]
            for positive in [score for score, is_known, _ in read if is_known]:
                for other in [score for score, is_known, _ in read if not is_known]:
                    pairs += 1
                    wins += 1.0 if positive > other else 0.5 if positive == other else 0.0
        return {
            "candidates": len(judged),
            "share_relevant": round(sum(judged) / len(judged), 4) if judged else None,
            "known_positives_in_candidates": len(hits),
            "known_judged_relevant": round(sum(hits) / len(hits), 4) if hits else None,
            "auc_known_vs_other": round(wins / pairs, 4) if pairs else None,
        }

    def export(self, rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        threshold = RELEVANT_GRADE if self.cfg.graded_labels else 1
        groups = []
        for row in rows:
            pairs = list(zip(row["documents"], row["labels"], strict=True))
            judged = [d for d, label in pairs if label >= threshold]
            positives = distinct([*(row.get("known_positives") or []), *judged])
            negatives = [d for d, label in pairs if 0 <= label < threshold and d not in positives]
            if negatives:
                groups += [{"query": row["query"], "positive": p, "negatives": negatives} for p in positives]
        return {"reranker.parquet": groups}
