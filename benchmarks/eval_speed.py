"""Dense evaluation speed: ``synthret eval --retriever dense`` against sentence-transformers'
``InformationRetrievalEvaluator`` on the same model, data and batch size, in one run.

Every contender runs in its own fresh process (model loading included), one after the other, and encodes cold: its
own empty embedding cache. Printed: the evaluator, synthret's default path (encode.backend=auto,
encode.precision=auto: OpenVINO's CPU runtime in bf16 where the CPU computes bf16), each other encoding option
(PyTorch fp32, PyTorch bf16 under torch.autocast, OpenVINO fp32, a Ray Data pool of one-thread actors), and
synthret warm (the default path again, its cache filled by the cold run), each with nDCG@10. The last line is
``ratio=<evaluator seconds / synthret cold seconds>`` for the default path: above 1.0, synthret is faster.

    .venv/bin/python benchmarks/eval_speed.py --data ../shared/datasets/scifact
"""

from __future__ import annotations

import argparse
import os
import tempfile

from _common import SHARED_DATASETS, measure

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# name -> encode options over the default path (what `synthret eval` takes as encode.<key>=<value>)
OPTIONS: dict[str, dict] = {
    # the default path is encode.backend=auto encode.precision=auto: OpenVINO bf16 on CPUs that compute bf16
    "PyTorch fp32 (encode.backend=torch encode.precision=fp32)": {"backend": "torch", "precision": "fp32"},
    "PyTorch bf16 (encode.backend=torch encode.precision=bf16)": {"backend": "torch", "precision": "bf16"},
    "OpenVINO fp32 (encode.backend=openvino encode.precision=fp32)": {"backend": "openvino", "precision": "fp32"},
    # 0.5 CPU each on 2 cores: two 1-CPU actors leave no CPU for Ray Data's read tasks (the run waits forever)
    "default path, Ray Data pool of 2 one-thread actors": {
        "ray_min_docs": 0,
        "num_actors": 2,
        "num_cpus_per_actor": 0.5,
    },
}


def run_synthret(data: str, model: str, batch_size: int, cache: str, options: dict) -> float:
    os.environ["SYNTHRET_CACHE"] = cache  # read when the cache is used: this process's own folder
    import ray

    from synthret_ray.evaluation import EvalConfig, run_eval

    if options.get("ray_min_docs") == 0:
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    cfg = EvalConfig(data=data, retriever="dense", model=model, encode={"batch_size": batch_size, **options})
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


def line(name: str, seconds: float, mem: float, ndcg: float, base_ndcg: float) -> None:
    print(
        f"{name:56s} {seconds:8.1f} s  peak {mem:7.0f} MiB  nDCG@10 {100 * ndcg:.2f} ({100 * (ndcg - base_ndcg):+.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_DATASETS / "scifact"))
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--skip-options", action="store_true", help="only the evaluator, cold and warm")
    parser.add_argument("--options", nargs="*", help="only the options whose name contains one of these words")
    args = parser.parse_args()
    common = (args.data, args.model, args.batch_size)

    with tempfile.TemporaryDirectory(prefix="eval_speed_") as tmp:
        base_s, base_mem, base_ndcg = measure(run_st_evaluator, *common)
        line("sentence-transformers InformationRetrievalEvaluator", base_s, base_mem, base_ndcg, base_ndcg)
        default_cache = os.path.join(tmp, "default")
        cold_s, cold_mem, cold_ndcg = measure(run_synthret, *common, default_cache, {})
        line("synthret eval, cold (default path)", cold_s, cold_mem, cold_ndcg, base_ndcg)
        chosen = {n: o for n, o in OPTIONS.items() if not args.options or any(w in n for w in args.options)}
        for name, options in {} if args.skip_options else chosen.items():
            cache = os.path.join(tmp, str(abs(hash(name))))  # its own empty folder: cold
            seconds, mem, ndcg = measure(run_synthret, *common, cache, options)
            line(f"synthret eval, cold, {name}", seconds, mem, ndcg, base_ndcg)
            print(f"  ratio for this option: {base_s / seconds:.3f}")
        warm_s, warm_mem, warm_ndcg = measure(run_synthret, *common, default_cache, {})
        line("synthret eval, warm (corpus embeddings cached)", warm_s, warm_mem, warm_ndcg, base_ndcg)
    print(f"memory_ratio={cold_mem / base_mem:.2f}")
    print(f"warm_ratio={base_s / warm_s:.3f}")
    print(f"ratio={base_s / cold_s:.3f}")


if __name__ == "__main__":
    main()
