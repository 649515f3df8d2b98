"""Dense evaluation speed: ``synthret eval --retriever dense`` against sentence-transformers'
``InformationRetrievalEvaluator`` on the same model, data and batch size, in one run.

Each contender runs in its own fresh process (model loading included), one after the other.
The last line is ``ratio=<evaluator seconds / synthret seconds>``: above 1.0, synthret is faster.

    .venv/bin/python benchmarks/eval_speed.py --data ../shared/datasets/scifact
"""

from __future__ import annotations

import argparse
import os

from _common import SHARED_DATASETS, measure

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def run_synthret(data: str, model: str, batch_size: int) -> float:
    from synthret_ray.evaluation import EvalConfig, run_eval

    cfg = EvalConfig(data=data, retriever="dense", model=model, encode={"batch_size": batch_size})
    return run_eval(cfg, progress=False).metrics["ndcg_at_10"]


def run_st_evaluator(data: str, model: str, batch_size: int) -> float:
    from sentence_transformers.evaluation import InformationRetrievalEvaluator

    from synthret_ray.data import doc_text, load_beir
    from synthret_ray.models import load_sentence_transformer

    beir = load_beir(data)
    st_model = load_sentence_transformer(model)
    evaluator = InformationRetrievalEvaluator(
        queries=beir.queries,
        corpus={d: doc_text(doc) for d, doc in beir.corpus.items()},
        relevant_docs={q: {d for d, s in rels.items() if s > 0} for q, rels in beir.qrels.items()},
        mrr_at_k=[10],
        ndcg_at_k=[10],
        accuracy_at_k=[10],
        precision_recall_at_k=[100],
        map_at_k=[100],
        batch_size=batch_size,
        write_csv=False,
    )
    scores = evaluator(st_model)
    return next(v for k, v in scores.items() if k.endswith("ndcg@10"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_DATASETS / "scifact"))
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    base_s, base_mem, base_ndcg = measure(run_st_evaluator, args.data, args.model, args.batch_size)
    print(
        f"sentence-transformers InformationRetrievalEvaluator: {base_s:8.1f} s  peak {base_mem:7.0f} MiB  "
        f"nDCG@10 {100 * base_ndcg:.2f}"
    )
    ours_s, ours_mem, ours_ndcg = measure(run_synthret, args.data, args.model, args.batch_size)
    print(
        f"synthret eval --retriever dense:                     {ours_s:8.1f} s  peak {ours_mem:7.0f} MiB  "
        f"nDCG@10 {100 * ours_ndcg:.2f}"
    )
    print(f"memory_ratio={ours_mem / base_mem:.2f}")
    print(f"ratio={base_s / ours_s:.3f}")


if __name__ == "__main__":
    main()
