"""Synthesis throughput: the same prompts through the Ray Data pipeline (``synthesize``) and through the bare
engine in one process, same model, sampling and batch size, in one run.

``--engine local`` (CPU): the bare engine is transformers ``generate`` in batches. Both sides are timed from the
moment the model starts loading to the last token (the pipeline's Ray start-up happens before its clock starts;
its actors' model loading is inside it). Both use all the node's cores: the bare engine with torch's threads,
the pipeline with one actor owning them. A second pipeline run with two actors of half the cores each is
reported beside it.

``--engine vllm`` (one GPU): the bare engine is ``vllm.LLM.chat`` over all prompts at once (vLLM batches them
itself); the pipeline is ``ray.data.llm``'s vLLM processor with one replica, as ``engine.kind=vllm`` runs it.
Same clock rule. Needs vllm and ray on the GPU node; it has not run on this project's CPU machine.

Greedy decoding makes both sides generate the same tokens; the script checks that. The last line is
``ratio=<pipeline tokens/s / bare tokens/s>``.

    .venv/bin/python benchmarks/synthesis_speed.py --passages 48 --max-new-tokens 24
    python benchmarks/synthesis_speed.py --engine vllm --model HuggingFaceTB/SmolLM2-135M-Instruct \
        --data ../shared/datasets/scifact --passages 2000 --max-new-tokens 32 --batch-size 64
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from _common import measure

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

PYDOCS = Path(__file__).resolve().parents[1] / "synthret_ray" / "resources" / "pydocs"
MAX_PASSAGE_WORDS = 200


def passages(data: str, n: int) -> list[str]:
    from synthret_ray.data.beir import doc_text, read_corpus
    from synthret_ray.synthesis.task import cut_words

    corpus = read_corpus(data)
    if len(corpus) < n:
        sys.exit(f"{data} has {len(corpus)} passages; --passages asks for {n}")
    return [cut_words(doc_text(corpus[d]), MAX_PASSAGE_WORDS)[0] for d in list(corpus)[:n]]


def bare(args: argparse.Namespace, threads: int) -> dict:
    import time

    from synthret_ray.engines import LocalEngineConfig, SamplingParams, build_engine
    from synthret_ray.synthesis import queries

    start = time.perf_counter()
    engine = build_engine(LocalEngineConfig(model=args.model, device="cpu"), threads)
    sampling = SamplingParams(max_new_tokens=args.max_new_tokens)
    requests = [queries.build_request(p, sampling) for p in passages(args.data, args.passages)]
    tokens = 0
    for i in range(0, len(requests), args.batch_size):
        tokens += sum(c.completion_tokens for c in engine.generate(requests[i : i + args.batch_size]))
    return {"tokens": tokens, "seconds": time.perf_counter() - start}


def bare_vllm(args: argparse.Namespace) -> dict:
    import time

    from vllm import LLM
    from vllm import SamplingParams as VLLMSampling

    from synthret_ray.synthesis import queries

    start = time.perf_counter()  # the same clock as bare(): prompts are built inside it, as in the pipeline
    conversations = [queries.messages(p) for p in passages(args.data, args.passages)]
    llm = LLM(model=args.model, gpu_memory_utilization=0.9)
    outputs = llm.chat(conversations, VLLMSampling(temperature=0.0, max_tokens=args.max_new_tokens), use_tqdm=False)
    tokens = sum(len(o.outputs[0].token_ids) for o in outputs)
    return {"tokens": tokens, "seconds": time.perf_counter() - start}


def pipeline(args: argparse.Namespace, actors: int) -> dict:
    import ray

    from synthret_ray.synthesis.config import SynthesisConfig
    from synthret_ray.synthesis.pipeline import synthesize

    cpus = os.cpu_count() or 1
    if args.engine == "vllm":
        # Plain text on both sides: the bare engine has no JSON schema to enforce.
        engine = {"kind": "vllm", "model": args.model, "batch_size": args.batch_size, "structured_output": False}
    else:
        engine = {
            "model": args.model,
            "device": "cpu",
            "num_actors": actors,
            "cpus_per_actor": cpus / actors / 2,
            "batch_size": args.batch_size,
        }
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    with tempfile.TemporaryDirectory() as out:
        cfg = SynthesisConfig(
            task="queries",
            input={"data": args.data, "limit": args.passages, "max_passage_words": MAX_PASSAGE_WORDS},
            output_dir=out,
            engine=engine,
            sampling={"max_new_tokens": args.max_new_tokens},
            progress=False,
        )
        run = synthesize(cfg).stats["this_run"]
    ray.shutdown()
    result = {"tokens": run["generated_tokens"], "seconds": run["wall_seconds"]}
    if args.engine == "local":  # the busiest actor's time inside generate()
        result["busy"] = max(w["busy_seconds"] for w in run["workers"].values())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["local", "vllm"], default="local")
    parser.add_argument("--model", help="local: smollm2 (default), a folder or hub id; vllm: a hub id or folder")
    parser.add_argument("--data", default=str(PYDOCS), help="BEIR folder whose first passages become the prompts")
    parser.add_argument("--passages", type=int, default=48)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    if args.engine == "vllm" and not args.model:
        parser.error("--engine vllm needs --model (a hub id or folder vLLM loads)")
    args.model = args.model or "smollm2"

    from synthret_ray.engines import EngineError, LocalEngineConfig, VLLMEngineConfig, check_engine

    results = {}
    if args.engine == "vllm":
        try:
            check_engine(VLLMEngineConfig(model=args.model))
        except EngineError as err:
            sys.exit(str(err))
        _, bare_mib, results["bare engine"] = measure(bare_vllm, args)
        _, pipe_mib, results["pipeline, 1 actor"] = measure(pipeline, args, 1)
        hardware = "1 GPU (vLLM)"
    else:
        check_engine(LocalEngineConfig(model=args.model))  # converts the packaged GGUF once, outside every clock
        _, bare_mib, results["bare engine"] = measure(bare, args, os.cpu_count() or 1)
        _, pipe_mib, results["pipeline, 1 actor"] = measure(pipeline, args, 1)
        _, _, results["pipeline, 2 actors"] = measure(pipeline, args, 2)
        hardware = f"fp32 on {os.cpu_count()} CPU cores"
    print(
        f"{args.passages} prompts, max_new_tokens={args.max_new_tokens}, batch {args.batch_size}, greedy, "
        f"{args.model} {hardware}"
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
    if "pipeline, 2 actors" in speed:
        print(f"2 actors vs 1: x{speed['pipeline, 2 actors'] / speed['pipeline, 1 actor']:.2f}")
    print(
        f"driver peak RSS: bare {bare_mib:.0f} MiB, pipeline {pipe_mib:.0f} MiB (the pipeline's model is in its actor)"
    )
    print(f"ratio={speed['pipeline, 1 actor'] / speed['bare engine']:.3f}")


if __name__ == "__main__":
    main()
