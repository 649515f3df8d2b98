"""A full Syntriever run on MS MARCO with a 70B teacher, on N GPUs, estimated from what this project measured.

Tokens per unit come from the stats.json of real run folders (the Cranfield protocol-v2 run by default: its
queries, distill and verify stages; prefer from the SciFact run recorded in benchmarks/RESULTS.md when no prefer
stage has finished). GPU throughputs are parameters, with the published figures they default to named in
docs/scaling.md; nothing here was run on a GPU. Prints one table per stage and GPU count, then the totals.

    .venv/bin/python benchmarks/scaling.py --run runs/quality/cranfield/syntriever
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

MSMARCO_PASSAGES = 8_841_823
MSMARCO_TRAIN_QUERIES = 502_939
# SciFact's prefer stage (benchmarks/RESULTS.md, protocol v1): 293,592 prompt tokens for 32 queries at k=4, both
# orders of 6 pairs: 384 requests; closed answers of at most a few tokens.
PREFER_FALLBACK = {"prompt_per_request": 293_592 / 384, "generated_per_request": 2.0}


def per_unit(stats_file: Path) -> dict[str, float]:
    """Prompt and generated tokens per unit (a passage, a query, a list) and requests per unit, from a run."""
    stats = json.loads(stats_file.read_text())
    run = stats["this_run"]
    units = run["rows_written"] or 1
    requests = sum(w.get("requests", 0) for w in run.get("workers", {}).values())
    return {
        "prompt": run["prompt_tokens"] / units,
        "generated": run["generated_tokens"] / units,
        "requests": requests / units,
        "units": units,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="runs/quality/cranfield/syntriever", help="run folder with stats.json")
    parser.add_argument("--gpus", type=int, nargs="+", default=[8, 64, 512])
    # 70B teacher per 8-GPU tensor-parallel replica (see docs/scaling.md for the sources)
    parser.add_argument("--prefill-per-replica", type=float, default=36_400.0, help="prompt tokens/s, 8 GPUs")
    parser.add_argument("--decode-per-replica", type=float, default=2_960.0, help="generated tokens/s, 8 GPUs")
    parser.add_argument("--encode-per-gpu", type=float, default=3_000.0, help="passages/s, base-size encoder")
    parser.add_argument("--train-rows-per-gpu", type=float, default=200.0, help="stage-1 groups/s per GPU")
    parser.add_argument("--prefer-k", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    run = Path(args.run)
    tasks = {t: per_unit(run / t / "stats.json") for t in ("queries", "distill", "verify", "prefer")
             if (run / t / "stats.json").is_file()}  # fmt: skip
    for task, measured in tasks.items():
        print(
            f"measured {task}: {measured['units']:.0f} units, {measured['prompt']:.0f} prompt and "
            f"{measured['generated']:.0f} generated tokens per unit, {measured['requests']:.1f} requests per unit"
        )
    pairs = args.prefer_k * (args.prefer_k - 1) // 2
    if "prefer" not in tasks:
        requests = 2 * pairs  # both orders of every pair
        tasks["prefer"] = {
            "prompt": PREFER_FALLBACK["prompt_per_request"] * requests,
            "generated": PREFER_FALLBACK["generated_per_request"] * requests,
            "requests": requests,
        }
        print(f"prefer: from SciFact's run, {PREFER_FALLBACK['prompt_per_request']:.0f} prompt tokens per request, "
              f"{requests} requests per query at k={args.prefer_k}")  # fmt: skip

    # MS MARCO's Syntriever trains on its labelled training queries: no queries stage; one unit per query
    work = {t: tasks[t] for t in ("distill", "verify", "prefer") if t in tasks}
    rates = f"{args.prefill_per_replica:,.0f} prompt / {args.decode_per_replica:,.0f} generated tokens/s"
    print(f"\nMS MARCO: {MSMARCO_TRAIN_QUERIES:,} training queries, {MSMARCO_PASSAGES:,} passages; teacher "
          f"replicas of 8 GPUs at {rates}")  # fmt: skip
    print("\n| stage | prompt tokens | generated tokens | " + " | ".join(f"{n} GPUs (h)" for n in args.gpus) + " |")
    print("|---|---|---|" + "---|" * len(args.gpus))
    totals = dict.fromkeys(args.gpus, 0.0)
    for task, measured in work.items():
        prompt = measured["prompt"] * MSMARCO_TRAIN_QUERIES
        generated = measured["generated"] * MSMARCO_TRAIN_QUERIES
        # prefill and decode counted one after the other: an upper bound, continuous batching overlaps them
        replica_seconds = prompt / args.prefill_per_replica + generated / args.decode_per_replica
        hours = {n: replica_seconds / (n // 8) / 3600 for n in args.gpus}
        for n in args.gpus:
            totals[n] += hours[n]
        print(f"| {task} | {prompt / 1e9:.2f}B | {generated / 1e9:.3f}B | "
              + " | ".join(f"{hours[n]:.1f}" for n in args.gpus) + " |")  # fmt: skip
    # two corpus encodings (stage 1 for prefer's candidates, each evaluated model) and training
    encodings = 2 + 3  # candidates by stage 1; test evaluation of zero-shot, stage 1, stage 2
    encode_hours = {n: encodings * MSMARCO_PASSAGES / (args.encode_per_gpu * n) / 3600 for n in args.gpus}
    groups = MSMARCO_TRAIN_QUERIES * args.epochs + MSMARCO_TRAIN_QUERIES * pairs  # stage 1 groups, stage 2 pairs
    train_hours = {n: groups / (args.train_rows_per_gpu * n) / 3600 for n in args.gpus}
    for label, hours in (("corpus encodings (5)", encode_hours), ("training (stage 1 + 2)", train_hours)):
        for n in args.gpus:
            totals[n] += hours[n]
        print(f"| {label} | | | " + " | ".join(f"{hours[n]:.2f}" for n in args.gpus) + " |")
    print("| total | | | " + " | ".join(f"{totals[n]:.1f}" for n in args.gpus) + " |")
    print("gpu_hours=" + ",".join(f"{n}:{totals[n] * n:.0f}" for n in args.gpus))


if __name__ == "__main__":
    main()
