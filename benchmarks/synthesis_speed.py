"""Synthesis throughput: the same prompts through the Ray Data pipeline (``synthesize``) and through the bare
engine in one process (transformers ``generate`` in batches), same model, sampling and batch size, in one run.

Both sides are timed from the moment the model starts loading to the last token (the pipeline's Ray start-up
happens before its clock starts; its actors' model loading is inside it). Both use all the node's cores: the
bare engine with torch's threads, the pipeline with one actor owning them. A second pipeline run with two
actors of half the cores each is reported beside it. Greedy decoding makes both sides generate the same tokens;
the script checks that. The last line is ``ratio=<pipeline tokens/s / bare tokens/s>``.

    .venv/bin/python benchmarks/synthesis_speed.py --passages 48 --max-new-tokens 24
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from _common import measure

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

PYDOCS = Path(__file__).resolve().parents[1] / "synthret_ray" / "resources" / "pydocs"


def passages(n: int) -> list[str]:
    from synthret_ray.data.beir import doc_text, read_corpus
    from synthret_ray.synthesis.task import cut_words

    corpus = read_corpus(str(PYDOCS))
    return [cut_words(doc_text(corpus[d]), 200)[0] for d in list(corpus)[:n]]


def bare(n: int, max_new_tokens: int, batch_size: int, threads: int) -> dict:
    import time

    from synthret_ray.engines import LocalEngineConfig, SamplingParams, build_engine
    from synthret_ray.synthesis import queries

    start = time.perf_counter()
    engine = build_engine(LocalEngineConfig(model="smollm2", device="cpu"), threads)
    requests = [queries.build_request(p, SamplingParams(max_new_tokens=max_new_tokens)) for p in passages(n)]
    tokens = 0
    for i in range(0, len(requests), batch_size):
        tokens += sum(c.completion_tokens for c in engine.generate(requests[i : i + batch_size]))
    return {"tokens": tokens, "seconds": time.perf_counter() - start}


def pipeline(n: int, max_new_tokens: int, batch_size: int, actors: int) -> dict:
    import ray

    from synthret_ray.synthesis.config import SynthesisConfig
    from synthret_ray.synthesis.pipeline import synthesize

    cpus = os.cpu_count() or 1
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    with tempfile.TemporaryDirectory() as out:
        cfg = SynthesisConfig(
            task="queries",
            input={"data": str(PYDOCS), "limit": n, "max_passage_words": 200},
            output_dir=out,
            engine={
                "model": "smollm2",
                "device": "cpu",
                "num_actors": actors,
                "cpus_per_actor": cpus / actors / 2,
                "batch_size": batch_size,
            },
            sampling={"max_new_tokens": max_new_tokens},
            progress=False,
        )
        run = synthesize(cfg).stats["this_run"]
    ray.shutdown()
    busy = max(w["busy_seconds"] for w in run["workers"].values())  # the busiest actor's time inside generate()
    return {"tokens": run["generated_tokens"], "seconds": run["wall_seconds"], "busy": busy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=48)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    common = (args.passages, args.max_new_tokens, args.batch_size)

    # Convert the GGUF once, outside every clock.
    from synthret_ray.engines import LocalEngineConfig, check_engine

    check_engine(LocalEngineConfig(model="smollm2"))
    results = {}
    _, bare_mib, results["bare engine"] = measure(bare, *common, os.cpu_count() or 1)
    _, pipe_mib, results["pipeline, 1 actor"] = measure(pipeline, *common, 1)
    _, _, results["pipeline, 2 actors"] = measure(pipeline, *common, 2)
    print(
        f"{args.passages} prompts, max_new_tokens={args.max_new_tokens}, batch {args.batch_size}, greedy, "
        f"SmolLM2-135M fp32 on {os.cpu_count()} CPU cores"
    )
    for name, r in results.items():
        speed = r["tokens"] / r["seconds"]
        line = f"{name:>20}: {r['tokens']:5d} tokens in {r['seconds']:6.1f} s = {speed:6.2f} tokens/s"
        if "busy" in r:  # what the wall time spent outside generate(): actor start-up, model load, export
            line += f" (busiest actor in generate() {r['busy']:.1f} s, overhead {r['seconds'] - r['busy']:.1f} s)"
        print(line)
    if len({r["tokens"] for r in results.values()}) != 1:
        print("warning: the contenders generated different token counts")
    speed = {name: r["tokens"] / r["seconds"] for name, r in results.items()}
    print(f"2 actors vs 1: x{speed['pipeline, 2 actors'] / speed['pipeline, 1 actor']:.2f}")
    print(
        f"driver peak RSS: bare {bare_mib:.0f} MiB, pipeline {pipe_mib:.0f} MiB (the pipeline's model is in its actor)"
    )
    print(f"ratio={speed['pipeline, 1 actor'] / speed['bare engine']:.3f}")


if __name__ == "__main__":
    main()
