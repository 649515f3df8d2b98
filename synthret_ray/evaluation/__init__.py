"""Retrieval evaluation: BM25 (bm25s), dense (faiss), cross-encoder reranking, scored by pytrec_eval."""

from __future__ import annotations

from synthret_ray.evaluation.config import EvalConfig
from synthret_ray.evaluation.metrics import evaluate_run
from synthret_ray.evaluation.runner import EvalResult, run_eval

__all__ = ["EvalConfig", "EvalResult", "evaluate_run", "run_eval"]
