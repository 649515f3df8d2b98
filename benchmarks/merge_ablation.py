"""The trained student interpolated with the model it started from (WiSE-FT, ``synthret merge``), measured on
finished recipe runs: does it keep the student's gain on the test queries, or add to it?

For each run folder (a Promptagator, SyCL or Syntriever run of ``benchmarks/quality.py`` or
``benchmarks/teacher_ablation.py``, its evaluate stage done) and each ``--weights`` w, the final student is merged
with the recipe's start model, ``(1 - w) * start + w * student``, and scored with the same settings as the run's
evaluate stage on its test queries, and on the run's own dev split (the held-out generated queries). Each row
gives nDCG@10 and Recall@100, and the difference in nDCG@10 from zero-shot and from the unmerged student with
the paired t-test's p-value. w is fixed before any test number (WiSE-FT's default, 0.5): dev, written by the
same teacher as the training queries, favours w = 1 and is reported, not used to choose.

    .venv/bin/python benchmarks/merge_ablation.py --runs runs/teacher_ablation/smollm2/cranfield/promptagator

Rows go to ``benchmarks/results/merge_ablation.json`` (one entry per run folder and weight, replaced on rerun).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import yaml
from quality import STUDENT

from synthret_ray.evaluation import EvalConfig, run_eval
from synthret_ray.evaluation.metrics import difference
from synthret_ray.evaluation.runner import output_paths
from synthret_ray.pipeline.runner import evaluation_stem
from synthret_ray.training.merge import merge_biencoders

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "merge_ablation.json"


def results(out: str) -> dict:
    """A results file of ``synthret eval`` with the path of its per-query metrics."""
    return {**json.loads(Path(out).read_text()), "per_query": output_paths(out)["per_query"]}


def scored(cfg: EvalConfig) -> dict:
    run_eval(cfg, progress=False)
    return results(cfg.out)


def compare(system: dict, baseline: dict) -> dict:
    delta, p_value = difference(system, baseline, system["per_query"], baseline["per_query"])
    return {"delta_ndcg_at_10": round(100 * delta, 3), "p_value": float(f"{p_value:.3g}")}


def measure_run(run_dir: Path, weight: float) -> list[dict]:
    recipe = json.loads((run_dir / "summary.json").read_text())["recipe"]
    if recipe == "reranker":
        sys.exit(f"{run_dir}: the reranker recipe's student is a cross-encoder; merge interpolates bi-encoders")
    stage = STUDENT[recipe]
    evaluate = {name: str(run_dir / "evaluate" / f"{evaluation_stem(name)}.json") for name in ("zero-shot", stage)}
    student_cfg = EvalConfig.model_validate(yaml.safe_load(Path(output_paths(evaluate[stage])["config"]).read_text()))
    start = EvalConfig.model_validate(
        yaml.safe_load(Path(output_paths(evaluate["zero-shot"])["config"]).read_text())
    ).model
    out = run_dir / "merge_ablation" / f"w{weight:g}"
    merged = merge_biencoders(start, str(run_dir / "train" / stage / "model"), weight, out / "model")
    models = {"zero-shot": start, stage: str(run_dir / "train" / stage / "model"), "merged": str(merged)}
    # test: the run's evaluate stage scored zero-shot and the student already; dev: the run's held-out generated
    # queries, every system ranked over the whole corpus
    dev_cfg = student_cfg.model_copy(
        update={"data": str(run_dir / "split" / "dev"), "split": "dev", "max_queries": None}
    )
    sides = {
        "test": {
            **{name: results(path) for name, path in evaluate.items()},
            "merged": scored(student_cfg.model_copy(update={"model": str(merged), "out": str(out / "test.json")})),
        },
        "dev": {
            name: scored(dev_cfg.model_copy(update={"model": model, "out": str(out / "dev" / f"{name}.json")}))
            for name, model in models.items()
        },
    }
    rows = []
    for side, systems in sides.items():
        for name, metrics in systems.items():
            row = {
                "run": str(run_dir.relative_to(REPO)) if run_dir.is_relative_to(REPO) else str(run_dir),
                "split": side,
                "weight": weight,
                "system": name,
                "ndcg_at_10": round(100 * metrics["ndcg_at_10"], 2),
                "recall_at_100": round(100 * metrics["recall_at_100"], 2),
                "num_queries": metrics["num_queries"],
            }
            if name != "zero-shot":
                row["vs_zero_shot"] = compare(metrics, systems["zero-shot"])
            if name == "merged":
                row[f"vs_{stage}"] = compare(metrics, systems[stage])
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", required=True, type=Path, help="Finished recipe run folders.")
    parser.add_argument("--weights", nargs="+", type=float, default=[0.5], help="w of the tuned model.")
    args = parser.parse_args()
    command = ".venv/bin/python benchmarks/merge_ablation.py " + shlex.join(sys.argv[1:])
    entries = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    for run_dir in args.runs:
        run_dir = run_dir.resolve()
        for weight in args.weights:
            rows = measure_run(run_dir, weight)
            for row in rows:
                extra = {k: v for k, v in row.items() if k.startswith("vs_")}
                print(
                    f"{row['run']} w={weight:g} {row['split']:>4} {row['system']:>9}: "
                    f"nDCG@10 {row['ndcg_at_10']:6.2f} R@100 {row['recall_at_100']:6.2f} "
                    f"({row['num_queries']} queries) {extra or ''}"
                )
            key = (rows[0]["run"], weight)
            entries = [e for e in entries if (e["run"], e["weight"]) != key]
            entries.append({"run": key[0], "weight": weight, "command": command, "rows": rows})
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(entries, indent=2) + "\n")


if __name__ == "__main__":
    main()
