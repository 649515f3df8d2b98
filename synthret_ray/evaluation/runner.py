"""``synthret eval``: load a BEIR split, retrieve, optionally rerank, score with pytrec_eval, write files.

Outputs beside ``out`` (e.g. ``results.json``): ``results.per_query.jsonl``, ``results.run.trec`` and
``results.config.yaml``, the resolved config that reproduces the run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from synthret_ray.config import dump_config
from synthret_ray.data.beir import BeirData, load_beir
from synthret_ray.evaluation.config import EvalConfig
from synthret_ray.evaluation.metrics import Run, drop_identical_ids, evaluate_run, ranked

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

    from synthret_ray.evaluation.dense import DenseEncoder


@dataclass
class EvalResult:
    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]
    run: Run
    timings: dict[str, float] = field(default_factory=dict)
    label: str = ""
    sampled_from: int | None = None  # queries of the split when max_queries scored a sample of them

    def summary(self) -> dict[str, float | int | str]:
        return {
            "system": self.label,
            **self.metrics,
            "num_queries": len(self.per_query),
            **({"sampled_from": self.sampled_from} if self.sampled_from is not None else {}),
            "seconds": round(self.timings.get("total", 0.0), 2),
        }


def system_label(cfg: EvalConfig) -> str:
    label = "bm25" if cfg.retriever == "bm25" else f"dense:{cfg.model}"
    if cfg.reranker is None:
        return label
    fused = f" (w={cfg.reranker.fusion_weight})" if cfg.reranker.fusion_weight < 1 else ""
    return f"{label} >> {cfg.reranker.model}@{cfg.reranker.depth}{fused}"


def retrieve(cfg: EvalConfig, data: BeirData, progress: bool = True, encoder: DenseEncoder | None = None) -> Run:
    """The first stage's top ``top_k`` per query, after dropping each query's own id (BEIR convention).
    ``encoder`` replaces loading ``cfg.model`` (evaluation of a model in training)."""
    # One extra hit per query, so that dropping the query's own id still leaves top_k documents.
    k = cfg.top_k + int(cfg.ignore_identical_ids)
    if cfg.retriever == "bm25":
        from synthret_ray.evaluation.bm25 import bm25_search

        run = bm25_search(data.corpus, data.queries, k, cfg.bm25, progress)
    else:
        from synthret_ray.evaluation.dense import DenseEncoder, dense_search

        if encoder is None:
            encoder = DenseEncoder(cfg.model, cfg.encode)
            run = dense_search(data, encoder, k, cfg.encode, cfg.index, progress, model_name=cfg.model)
        else:
            run = dense_search(data, encoder, k, cfg.encode, cfg.index, progress)
    if cfg.ignore_identical_ids:
        run = drop_identical_ids(run)
    return {q: dict(ranked(docs)[: cfg.top_k]) for q, docs in run.items()}


def run_eval(
    cfg: EvalConfig,
    data: BeirData | None = None,
    progress: bool = True,
    encoder: DenseEncoder | None = None,
    cross_encoder: CrossEncoder | None = None,
) -> EvalResult:
    """Evaluate ``cfg``; ``encoder`` / ``cross_encoder`` replace loading ``cfg.model`` / ``cfg.reranker.model``."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    if data is None:
        data = load_beir(cfg.data, cfg.split)
    split_queries = len(data.queries)
    if cfg.max_queries is not None:
        data = data.sample_queries(cfg.max_queries, cfg.sample_seed)
    timings["load"] = time.perf_counter() - start

    t = time.perf_counter()
    run = retrieve(cfg, data, progress, encoder)
    timings["retrieve"] = time.perf_counter() - t

    if cfg.reranker is not None:
        from synthret_ray.evaluation.rerank import rerank

        t = time.perf_counter()
        run = rerank(data, run, cfg.reranker, progress, cross_encoder)
        timings["rerank"] = time.perf_counter() - t

    t = time.perf_counter()
    metrics, per_query = evaluate_run(data.qrels, run)
    timings["metrics"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - start
    sampled_from = split_queries if len(data.queries) < split_queries else None
    result = EvalResult(metrics, per_query, run, timings, system_label(cfg), sampled_from)
    if cfg.out:
        write_outputs(result, cfg)
    return result


def output_paths(out: str) -> dict[str, Path]:
    path = Path(out)
    stem = path.with_suffix("") if path.suffix == ".json" else path
    return {
        "results": path if path.suffix == ".json" else path.with_suffix(".json"),
        "per_query": Path(f"{stem}.per_query.jsonl"),
        "run": Path(f"{stem}.run.trec"),
        "config": Path(f"{stem}.config.yaml"),
    }


def write_outputs(result: EvalResult, cfg: EvalConfig) -> dict[str, Path]:
    paths = output_paths(cfg.out)
    paths["results"].parent.mkdir(parents=True, exist_ok=True)
    dump_config(cfg, paths["config"])
    with open(paths["per_query"], "w", encoding="utf-8") as f:
        for qid, values in result.per_query.items():
            f.write(json.dumps({"query_id": qid, **values}) + "\n")
    tag = result.label.replace(" ", "_")
    with open(paths["run"], "w", encoding="utf-8") as f:
        for qid, docs in result.run.items():
            for rank, (did, score) in enumerate(ranked(docs), start=1):
                f.write(f"{qid} Q0 {did} {rank} {score:.6f} {tag}\n")
    payload = {
        **result.summary(),
        "split": cfg.split,
        "data": cfg.data,
        "timings": result.timings,
        "files": {k: str(v) for k, v in paths.items()},
    }
    paths["results"].write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return paths
