"""Retrieval metrics computed by pytrec_eval (trec_eval's C code), never re-implemented here.

Reported names and their trec_eval measures:
  ndcg_at_10 = ndcg_cut.10, recall_at_100 = recall.100, map_at_100 = map_cut.100,
  mrr_at_10 = recip_rank on the run cut to each query's top 10 (trec_eval's recip_rank has no cutoff).
Averages are over every judged query; a query absent from the run scores 0 (BEIR would skip it).
"""

from __future__ import annotations

from pathlib import Path

import pytrec_eval

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]

MEASURES = {"ndcg_at_10": "ndcg_cut_10", "recall_at_100": "recall_100", "map_at_100": "map_cut_100"}
METRIC_NAMES = ("ndcg_at_10", "recall_at_100", "mrr_at_10", "map_at_100")


def ranked(scores: dict[str, float]) -> list[tuple[str, float]]:
    """Documents in trec_eval's order: score descending, ties by document id descending."""
    return sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)


def drop_identical_ids(run: Run) -> Run:
    """BEIR convention: a query never retrieves the document that carries its own id."""
    return {qid: {d: s for d, s in docs.items() if d != qid} for qid, docs in run.items()}


def evaluate_run(qrels: Qrels, run: Run) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean metrics over the judged queries and the per-query values, both keyed by :data:`METRIC_NAMES`."""
    qrels = {q: rels for q, rels in qrels.items() if rels}
    run = {q: {d: float(s) for d, s in docs.items()} for q, docs in run.items() if q in qrels and docs}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100", "map_cut.100"})
    main = evaluator.evaluate(run) if run else {}
    top10 = {q: dict(ranked(docs)[:10]) for q, docs in run.items()}
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10) if top10 else {}
    per_query: dict[str, dict[str, float]] = {}
    for qid in qrels:
        values = {name: main.get(qid, {}).get(measure, 0.0) for name, measure in MEASURES.items()}
        values["mrr_at_10"] = rr.get(qid, {}).get("recip_rank", 0.0)
        per_query[qid] = {name: values[name] for name in METRIC_NAMES}
    n = len(per_query)
    mean = {name: (sum(v[name] for v in per_query.values()) / n if n else 0.0) for name in METRIC_NAMES}
    return mean, per_query


def paired_t_test(system: str | Path, baseline: str | Path, metric: str = "ndcg_at_10") -> float:
    """p-value of a paired two-sided t-test (scipy's ``ttest_rel``) on the per-query ``metric`` of two runs'
    ``.per_query.jsonl`` files, which must score the same queries; 1.0 when every query scores the same (t is
    undefined: a reranker given weight 0 returns its first stage's ranking)."""
    import json

    from scipy.stats import ttest_rel

    def scores(path: str | Path) -> dict[str, float]:
        rows = (json.loads(line) for line in Path(path).read_text().splitlines() if line.strip())
        return {row["query_id"]: row[metric] for row in rows}

    ours, theirs = scores(system), scores(baseline)
    if ours.keys() != theirs.keys():
        raise ValueError(f"{system} and {baseline} score different queries")
    queries = sorted(ours)
    if all(ours[q] == theirs[q] for q in queries):
        return 1.0
    return float(ttest_rel([ours[q] for q in queries], [theirs[q] for q in queries]).pvalue)


def difference(
    system: dict,
    baseline: dict,
    system_per_query: str | Path,
    baseline_per_query: str | Path,
    metric: str = "ndcg_at_10",
) -> tuple[float, float | None]:
    """``system``'s ``metric`` minus ``baseline``'s (two results dicts) and the paired t-test's p-value on their
    per-query files; the p-value is None when either file is missing."""
    from synthret_ray.data import fs

    delta = system[metric] - baseline[metric]
    if not (fs.exists(str(system_per_query)) and fs.exists(str(baseline_per_query))):
        return delta, None
    return delta, paired_t_test(system_per_query, baseline_per_query, metric)
