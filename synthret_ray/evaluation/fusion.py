"""Interpolating a cross-encoder with its first stage, and choosing the weight on dev queries.

Per query, over the reranked head, both scores are min-max normalized and mixed:

    s(q, d) = w * norm(cross_encoder(q, d)) + (1 - w) * norm(first_stage(q, d))

Interpolation with BM25 is how neural rankers are often deployed (Wang, Zhuang and Zuccon, "BERT-based Dense
Retrievers Require Interpolation with BM25", ICTIR 2021): a weak or out-of-domain cross-encoder then cannot throw away
what BM25 got right, and a strong one keeps most of the weight. ``w`` is chosen on dev queries, never test.
"""

from __future__ import annotations

from synthret_ray.evaluation.config import EvalConfig, FirstStageConfig
from synthret_ray.evaluation.metrics import Qrels, Run, evaluate_run, ranked

# Weights tried on dev, first stage alone (0) to cross-encoder alone (1).
FUSION_GRID = tuple(round(0.1 * i, 1) for i in range(11))


def _normalized(scores: dict[str, float]) -> dict[str, float]:
    low, high = min(scores.values()), max(scores.values())
    span = high - low
    return {d: (s - low) / span if span > 0 else 0.0 for d, s in scores.items()}


def fuse(first_stage: Run, head_scores: Run, weight: float) -> Run:
    """Each query's head (the documents ``head_scores`` has for it) scored by the interpolation above; the
    first stage's deeper documents follow in their own order. ``weight`` 1 keeps the cross-encoder's raw scores."""
    out: Run = {}
    for qid, docs in first_stage.items():
        head = head_scores.get(qid, {})
        if not head:
            scored: dict[str, float] = {}
        elif weight == 1.0:
            scored = dict(head)
        else:
            ce, first = _normalized(head), _normalized({d: docs[d] for d in head})
            scored = {d: weight * ce[d] + (1.0 - weight) * first[d] for d in head}
        floor = min(scored.values(), default=0.0)
        tail = [d for d, _ in ranked(docs) if d not in scored]
        scored.update({d: floor - 1.0 - i for i, d in enumerate(tail)})
        out[qid] = scored
    return out


def fusion_table(
    qrels: Qrels, first_stage: Run, head_scores: Run, grid: tuple[float, ...] = FUSION_GRID
) -> dict[float, float]:
    """nDCG@10 on these (dev) queries for each weight of ``grid``, smallest weight first."""
    return {w: evaluate_run(qrels, fuse(first_stage, head_scores, w))[0]["ndcg_at_10"] for w in sorted(grid)}


def best_weight(table: dict[float, float]) -> float:
    """The weight with the best nDCG@10 in ``table``; ties go to the smaller weight: the cross-encoder has to earn
    its share over the first stage."""
    best = max(table.values())
    return min(w for w, value in table.items() if value == best)


def dev_fusion_table(
    data_dir: str, split: str, first_stage: FirstStageConfig, model: str, depth: int, progress: bool = True
) -> dict[float, float]:
    """The first stage's top ``depth`` for the queries of ``split`` (dev), scored once by the cross-encoder
    ``model``, then :func:`fusion_table` over :data:`FUSION_GRID`."""
    from synthret_ray.data import load_beir
    from synthret_ray.evaluation.rerank import cross_encoder_scores
    from synthret_ray.evaluation.runner import retrieve

    reranker = {"model": model, "depth": depth}
    cfg = EvalConfig(data=data_dir, split=split, **first_stage.model_dump(), reranker=reranker)
    data = load_beir(cfg.data, cfg.split)
    first_run = retrieve(cfg, data, progress)
    head_scores = cross_encoder_scores(data, first_run, cfg.reranker, progress)
    return fusion_table(data.qrels, first_run, head_scores)
