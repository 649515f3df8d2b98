"""Synthesis throughput of the default engine: the ``queries`` task's prompts through the Ray Data pipeline
(``synthesize`` with ``engine.kind=vllm``: ``ray.data.llm`` driving vLLM) against bare ``vllm.LLM.chat`` in one
process, and against transformers ``generate`` (``engine.kind=local``), in one run.

Every side gets the same passages (the seeded sample of ``--passages`` that ``input.limit`` draws, cut to 200
words), the same chat messages, model, greedy sampling and token budget. Clocks include start-up: the bare
engines from the moment the model starts loading, the pipeline from the start of ``synthesize`` (its Ray Data
actors and vLLM engine start inside it; ``ray.init`` happens before). vLLM runs with the engine config's
settings on both sides (eager on CPU, the KV cache size and thread binding of :class:`VLLMEngineConfig`). The
transformers side runs on a subset (``--transformers-passages``) and is compared per generated token.

Last lines: ``ratio=<pipeline tokens/s / bare vLLM tokens/s>`` (goal >= 0.95) and
``vs_transformers=<pipeline tokens/s / transformers tokens/s>`` (goal >= 10).

    .venv/bin/python benchmarks/synthesis_speed.py                       # scifact, 1,000 passages, on CPU
    python benchmarks/synthesis_speed.py --device gpu --model Qwen/Qwen2.5-7B-Instruct --passages 5000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from _common import SHARED_DATASETS, measure

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

MAX_PASSAGE_WORDS = 200


def passages(data: str, n: int) -> list[str]:
    """The passages ``input.limit=n`` gives the pipeline: its seeded sample of the corpus, cut as it cuts them."""
    from synthret_ray.data.beir import doc_text, read_corpus
    from synthret_ray.synthesis.inputs import seeded_sample
    from synthret_ray.synthesis.task import cut_words

    corpus = read_corpus(data)
    if len(corpus) < n:
        sys.exit(f"{data} has {len(corpus)} passages; --passages asks for {n}")
    return [cut_words(doc_text(corpus[d]), MAX_PASSAGE_WORDS)[0] for d in seeded_sample(list(corpus), n, 0)]


def bare_vllm(args: argparse.Namespace) -> dict:
    import time

    from synthret_ray.engines import VLLMEngineConfig
    from synthret_ray.engines.vllm import engine_kwargs
    from synthret_ray.models.gguf import causal_lm_folder
    from synthret_ray.synthesis import queries

    cfg = VLLMEngineConfig(model=args.model)
    if args.device == "cpu":  # what the pipeline's runtime_env gives its engine actor
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(cfg.kv_cache_gib)
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = cfg.cpu_threads_bind
        os.environ["VLLM_CPU_NUM_OF_RESERVED_CPU"] = str(cfg.cpu_reserved_cores)
    from vllm import LLM
    from vllm import SamplingParams as VLLMSampling

    start = time.perf_counter()  # prompts are built inside the clock, as in the pipeline
    conversations = [queries.messages(p) for p in passages(args.data, args.passages)]
    llm = LLM(model=causal_lm_folder(args.model), **engine_kwargs(cfg, args.device))
    sampling = VLLMSampling(temperature=0.0, max_tokens=args.max_new_tokens, seed=0)
    outputs = llm.chat(conversations, sampling, use_tqdm=False)
    return {
        "tokens": sum(len(o.outputs[0].token_ids) for o in outputs),
        "prompt_tokens": sum(len(o.prompt_token_ids) for o in outputs),
        "seconds": time.perf_counter() - start,
    }


def transformers_generate(args: argparse.Namespace) -> dict:
    import time

    from synthret_ray.engines import LocalEngineConfig, SamplingParams, build_engine
    from synthret_ray.synthesis import queries

    start = time.perf_counter()
    engine = build_engine(LocalEngineConfig(model=args.model, device="cpu"), os.cpu_count() or 1)
    sampling = SamplingParams(max_new_tokens=args.max_new_tokens)
    requests = [queries.build_request(p, sampling) for p in passages(args.data, args.transformers_passages)]
    tokens = 0
    for i in range(0, len(requests), 16):
        tokens += sum(c.completion_tokens for c in engine.generate(requests[i : i + 16]))
    return {"tokens": tokens, "seconds": time.perf_counter() - start}


def pipeline(args: argparse.Namespace) -> dict:
    import ray

    from synthret_ray.synthesis.config import SynthesisConfig
    from synthret_ray.synthesis.pipeline import synthesize

    ray.init(include_dashboard=False, log_to_driver=False)
    with tempfile.TemporaryDirectory() as out:
        cfg = SynthesisConfig(
            task="queries",
            input={"data": args.data, "limit": args.passages, "max_passage_words": MAX_PASSAGE_WORDS},
            output_dir=out,
            engine={"kind": "vllm", "model": args.model, "device": args.device, "batch_size": args.batch_size},
            sampling={"max_new_tokens": args.max_new_tokens},
            progress=False,
        )
        stats = synthesize(cfg).stats["this_run"]
    ray.shutdown()
    return {
        "tokens": stats["generated_tokens"],
        "prompt_tokens": stats["prompt_tokens"],
        "seconds": stats["wall_seconds"],
        "engine": stats["engine"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="packaged name, local folder or hub id")
    parser.add_argument("--data", default=str(SHARED_DATASETS / "scifact"), help="BEIR folder of the passages")
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--transformers-passages", type=int, default=64, help="0 skips the transformers side")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", choices=["cpu", "gpu"], default=None, help="default: gpu when CUDA is present")
    args = parser.parse_args()
    import torch

    args.device = args.device or ("gpu" if torch.cuda.is_available() else "cpu")

    from synthret_ray.engines import EngineError, VLLMEngineConfig, check_engine

    try:
        check_engine(VLLMEngineConfig(model=args.model))  # converts a packaged GGUF once, outside every clock
    except EngineError as err:
        sys.exit(str(err))
    results = {}
    _, _, results["ray.data.llm pipeline"] = measure(pipeline, args)
    _, _, results["bare vllm.LLM"] = measure(bare_vllm, args)
    if args.transformers_passages:
        _, _, results["transformers generate"] = measure(transformers_generate, args)
    cores = os.cpu_count()
    print(
        f"{args.passages} scifact passages ({args.transformers_passages} for transformers), queries prompts, "
        f"max_new_tokens={args.max_new_tokens}, greedy, {args.model} on {args.device} ({cores} cores)"
    )
    for name, r in results.items():
        speed = r["tokens"] / r["seconds"]
        line = f"{name:>22}: {r['tokens']:6d} tokens in {r['seconds']:7.1f} s = {speed:7.2f} tokens/s"
        if "prompt_tokens" in r:
            line += f" ({r['prompt_tokens']} prompt tokens)"
        print(line)
    engine = results["ray.data.llm pipeline"]["engine"]
    print(
        f"pipeline engine: start-up {engine['startup_seconds']} s, generation {engine['generation_seconds']} s at "
        f"{engine['generated_tokens_per_s']} generated / {engine['prompt_tokens_per_s']} prompt tokens/s"
    )
    speed = {name: r["tokens"] / r["seconds"] for name, r in results.items()}
    print(f"ratio={speed['ray.data.llm pipeline'] / speed['bare vllm.LLM']:.3f}")
    if "transformers generate" in speed:
        print(f"vs_transformers={speed['ray.data.llm pipeline'] / speed['transformers generate']:.2f}")


if __name__ == "__main__":
    main()
