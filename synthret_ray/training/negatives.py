"""Positive-aware false-negative filter (``group.negative_max_ratio``), applied to a training file before training.

A hard negative whose similarity to the query, under the model training starts from, is above ``ratio`` times the
first positive's is dropped: NV-Retriever's TopK-PercPos (Moreira et al., NV-Retriever: Improving text embedding
models with effective hard-negative mining, 2024, arXiv:2407.15831; 0.95 there). Why here: a small teacher asked
for "plausibly irrelevant" passages writes on-topic ones (Qwen2.5-Coder-0.5B on Cranfield: mean cosine 0.845 to
the query under MiniLM, against 0.843 for its positive and 0.728 for the query's source passage), and a loss that
pushes them away from the query pulls the space apart (benchmarks/RESULTS.md, stage-1 ablation).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from synthret_ray.data import fs
from synthret_ray.training.config import TrainConfig

FILTERED_FILE = "train_data.negatives_filtered.parquet"


def first_positive(row: dict[str, Any]) -> str:
    return row["positive"] if "positive" in row else row["positives"][0]


def drop_false_negatives(
    rows: list[dict[str, Any]], query_vectors: np.ndarray, doc_vector: dict[str, np.ndarray], ratio: float
) -> tuple[list[dict[str, Any]], int]:
    """``rows`` with each negative whose score s(q, n) exceeds ``ratio`` * s(q, first positive) left out; the
    scores are inner products of the given (normalized) vectors. Returns the rows and how many were dropped."""
    out, dropped = [], 0
    for row, q in zip(rows, query_vectors, strict=True):
        bar = ratio * float(q @ doc_vector[first_positive(row)])
        kept = [n for n in row.get("negatives") or [] if float(q @ doc_vector[n]) <= bar]
        dropped += len(row.get("negatives") or []) - len(kept)
        out.append({**row, "negatives": kept})
    return out, dropped


def without_false_negatives(cfg: TrainConfig) -> tuple[TrainConfig, dict[str, Any] | None]:
    """``cfg`` pointing at a copy of its training file without false negatives (``group.negative_max_ratio``),
    written beside the run's checkpoints, and what was dropped; ``cfg`` itself when the filter is off."""
    ratio = cfg.group.negative_max_ratio
    if ratio is None:
        return cfg, None
    from synthret_ray.evaluation.config import EncodeConfig
    from synthret_ray.evaluation.dense import DenseEncoder
    from synthret_ray.synthesis.export import encode_rows
    from synthret_ray.training.data import load_training_rows

    rows = load_training_rows(cfg.train_data, cfg.stage, cfg.skip_invalid_rows).rows
    encode = EncodeConfig(
        batch_size=cfg.eval.batch_size,
        max_seq_length=cfg.optim.max_seq_length,
        cache=False,
        query_prefix=cfg.query_prefix or "",
        document_prefix=cfg.document_prefix or "",
    )
    encoder = DenseEncoder(cfg.model, encode)  # the model training starts from
    docs = sorted({first_positive(r) for r in rows} | {n for r in rows for n in r.get("negatives") or []})
    query_vectors = encoder.encode([r["query"] for r in rows], encoder.query_prefix)
    doc_vector = dict(zip(docs, encoder.encode(docs, encoder.document_prefix), strict=True))
    kept, dropped = drop_false_negatives(rows, query_vectors, doc_vector, ratio)
    folder = fs.join(cfg.output_dir, cfg.run_name)
    path = fs.join(folder, FILTERED_FILE)
    fs.write_bytes(path, encode_rows(FILTERED_FILE, kept))  # whole, through a temporary name
    report = {
        "source": cfg.train_data,
        "ratio": ratio,
        "negatives": sum(len(r.get("negatives") or []) for r in rows),
        "dropped": dropped,
        "model": cfg.model,
    }
    fs.write_bytes(fs.join(folder, "negatives_filtered.json"), json.dumps(report, indent=1).encode())
    print(f"[synthret] group.negative_max_ratio={ratio}: dropped {dropped} of {report['negatives']} hard negatives")
    return cfg.model_copy(update={"train_data": path}), report
