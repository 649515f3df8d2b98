"""Teacher ablation: one recipe on one dataset under ``benchmarks/quality.py``'s protocol, with each packaged
teacher in the teacher's role (queries, and the judgments of recipes that judge), everything else unchanged:
the student's test nDCG@10 against the teacher's time and CPU-hours.

    .venv/bin/python benchmarks/teacher_ablation.py                       # promptagator on cranfield, 3 teachers
    .venv/bin/python benchmarks/teacher_ablation.py --teachers smollm2 qwen-coder-0.5b
    .venv/bin/python benchmarks/teacher_ablation.py --summary             # the committed rows

The protocol's own teacher (quality.py's ``--teacher``) is its run under ``runs/quality`` (run there when missing,
skipped when finished); each other teacher runs under ``runs/teacher_ablation/<teacher>``, resumable the same way.
A teacher's cost is the queries stage that wrote its queries, every call of it (a killed and resumed stage
included); its CPU-hours count every core of this machine, since vLLM's CPU engine binds a thread to each
(``teacher.cpu_threads_bind=auto``) while it reserves one Ray CPU. The rows go to
``benchmarks/results/teacher_ablation_<dataset>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import quality

from synthret_ray.synthesis.store import RunStore

TEACHERS = ["smollm2", "qwen-coder-0.5b", "qwen-coder-1.5b"]


def teacher_cost(queries: Path) -> dict:
    """The tokens and seconds of the queries stage whose folder is ``queries``. Seconds are measured over every
    call where the folder records them; a folder whose shards predate those records (or a call that stopped
    before its first shard) gets an estimate: its rows at the last call's rows per second, marked as such."""
    stats = json.loads((queries / "stats.json").read_text())
    folder, last = stats["run_folder"], stats["this_run"]
    rows = RunStore(str(queries)).read_rows()
    cost = {
        "rows": len(rows),
        "prompt_tokens": sum(r["prompt_tokens"] for r in rows),
        "generated_tokens": sum(r["completion_tokens"] for r in rows),
    }
    if "calls" in folder and not folder.get("shards_without_call_record"):
        return {**cost, "seconds": folder["wall_seconds"], "calls": folder["calls"], "estimated": False}
    return {**cost, "seconds": round(len(rows) / last["rows_per_s"], 1), "estimated": True}


def ablation_row(dataset: str, recipe: str, teacher: str, protocol: argparse.Namespace, root: Path) -> dict:
    argv = ["--datasets", dataset, "--recipes", recipe, "--teacher", teacher]
    if teacher != protocol.teacher:
        argv += ["--run-root", str(root / teacher)]
    args = quality.build_parser().parse_args(argv)
    summary = quality.run_recipe(dataset, recipe, args, quality.queries_for(dataset, recipe, args))
    if not summary:
        return {"teacher": teacher, "failed": True}
    rows = quality.dataset_rows(dataset, [recipe], {recipe: summary}, args)
    (student,) = [row for row in rows if row["final_student"]]
    queries = quality.generated_queries(dataset, list(quality.STUDENT), args)
    assert queries is not None  # the recipe ran: its queries (or the ones it reused) are finished
    cost = teacher_cost(queries)
    cores = os.cpu_count() or 1
    return {
        "teacher": teacher,
        "run_dir": str(Path(args.run_root) / dataset / recipe),
        "train_queries": summary["stages"]["split"]["train_queries"],
        "dev_queries": summary["stages"]["split"]["dev_queries"],
        "teacher_seconds": cost["seconds"],
        "teacher_cpu_hours": round(cost["seconds"] * cores / 3600, 4),
        "teacher_cost_estimated": cost["estimated"],
        "teacher_generated_tokens": cost["generated_tokens"],
        "teacher_prompt_tokens": cost["prompt_tokens"],
        **{k: student[k] for k in ("system", "ndcg_at_10", "num_queries", "delta_ndcg_at_10", "p_value")},
        "significant_win": student["significant_win"],
    }


def print_rows(dataset: str, recipe: str, rows: list[dict]) -> None:
    print(f"\n{recipe} on {dataset}, the teacher writing the queries (CPU-hours: every core of the machine)")
    print("| teacher | train / dev queries | teacher s | teacher CPU h | nDCG@10 | vs zero-shot: points, p |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        if row.get("failed"):
            print(f"| {row['teacher']} | failed | | | | |")
            continue
        estimated = " (est.)" if row["teacher_cost_estimated"] else ""
        print(
            f"| {row['teacher']} | {row['train_queries']} / {row['dev_queries']} | {row['teacher_seconds']:.0f}"
            f"{estimated} | {row['teacher_cpu_hours']:.3f} | {row['ndcg_at_10']} | {row['delta_ndcg_at_10']:+.3f}, "
            f"p={row['p_value']:.3g} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="cranfield", choices=quality.DATASETS)
    parser.add_argument("--recipe", default="promptagator", choices=quality.STUDENT)
    parser.add_argument("--teachers", nargs="+", default=TEACHERS)
    parser.add_argument("--run-root", default=str(quality.REPO / "runs" / "teacher_ablation"))
    parser.add_argument("--summary", action="store_true", help="Print the committed rows and exit.")
    args = parser.parse_args()
    out = quality.RESULTS / f"teacher_ablation_{args.dataset}.json"
    if args.summary:
        committed = json.loads(out.read_text())
        return print_rows(committed["dataset"], committed["recipe"], committed["rows"])
    quality.offline()
    protocol = quality.build_parser().parse_args([])
    command = " ".join(["benchmarks/teacher_ablation.py", *sys.argv[1:]])
    # each row keeps the command that made it: a later command may run other teachers and keep this row
    rows = [
        {**ablation_row(args.dataset, args.recipe, t, protocol, Path(args.run_root)), "command": command}
        for t in args.teachers
    ]
    earlier = json.loads(out.read_text()) if out.exists() else {}
    kept = [
        r
        for r in earlier.get("rows", [])
        if earlier.get("recipe") == args.recipe and r["teacher"] not in args.teachers
    ]
    out.write_text(
        json.dumps(
            {
                "dataset": args.dataset,
                "recipe": args.recipe,
                "protocol": quality.PROTOCOL,
                "cores": os.cpu_count(),
                "rows": sorted(
                    kept + rows, key=lambda r: TEACHERS.index(r["teacher"]) if r["teacher"] in TEACHERS else 9
                ),
            },
            indent=2,
        )
    )
    print_rows(args.dataset, args.recipe, rows)


if __name__ == "__main__":
    main()
