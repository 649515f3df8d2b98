"""Retrieval quality of the three recipes, trained only on data the packaged teacher (SmolLM2-135M) wrote.

For each dataset and recipe this runs ``synthret run`` (a fresh process, as a user runs it) with the recipe's
CPU config from ``configs/recipes/`` and the sizes given here, then collects the test-split numbers of each run's
``summary.json``: BM25, zero-shot MiniLM, the recipe's student(s), and for the reranker recipe BM25 top 100
reranked by the trained cross-encoder (interpolated with BM25 by the weight ``w`` its fusion stage chose on dev);
``reranker-dense`` is the same recipe over zero-shot MiniLM's top 100 instead of BM25's.
Training queries are generated from the corpus (none of these datasets' test queries feed synthesis, training or
checkpoint selection; dev queries are held out of the generated ones). The first recipe run on a dataset generates
them, and every other recipe, in this run or a later one, reuses them (``train_queries=<that run>/queries``).
Run folders persist under ``--run-root``: a rerun skips finished stages, so an interrupted benchmark resumes.

    .venv/bin/python benchmarks/quality.py --datasets cranfield cisi --recipes sycl reranker syntriever

Each trained system is a case: it wins when its nDCG@10 beats zero-shot MiniLM on the same dataset. Beside
each case: the difference in points and the p-value of a paired two-sided t-test over the test queries'
nDCG@10 (scipy's ``ttest_rel``), so that a win of a hundredth of a point reads as the noise it is. The last
line is ``beats_zero_shot=<cases won>/<cases>``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from _common import SHARED_DATASETS

from synthret_ray.evaluation.runner import output_paths
from synthret_ray.pipeline.runner import evaluation_stem

REPO = Path(__file__).resolve().parents[1]
RECIPE_CONFIGS = {
    "sycl": REPO / "configs" / "recipes" / "sycl_cranfield.yaml",
    "syntriever": REPO / "configs" / "recipes" / "syntriever_scifact.yaml",
    "reranker": REPO / "configs" / "recipes" / "reranker_medquad.yaml",
    "reranker-dense": REPO / "configs" / "recipes" / "reranker_medquad.yaml",
}
# Recipes run with fixed overrides of their config, in a run folder of their own.
VARIANTS = {"reranker-dense": ["first_stage.retriever=dense", "first_stage.model=minilm"]}
# The recipe's final student: the system each case compares with zero-shot MiniLM.
STUDENT = {
    "sycl": "listwise",
    "syntriever": "stage2",
    "reranker": "bm25 >> reranker",
    "reranker-dense": "dense >> reranker",
}


def run_recipe(dataset: str, recipe: str, args: argparse.Namespace, queries: Path | None) -> dict:
    run_dir = Path(args.run_root) / dataset / recipe
    overrides = [
        f"data={Path(args.data_root) / dataset}",
        f"run_dir={run_dir}",
        f"train_queries={queries or 'generate'}",
        "dev_split=null",
        f"passages={args.passages}",
        f"max_queries={args.max_queries}",
        *([f"test_max_queries={args.test_max_queries}"] if args.test_max_queries else []),
        *VARIANTS.get(recipe, []),
        *(value.split(":", 1)[-1] for value in args.set if ":" not in value or value.startswith(f"{recipe}:")),
    ]
    command = [sys.executable, "-m", "synthret_ray.cli", "run", "--config", str(RECIPE_CONFIGS[recipe]), "-q"]
    command += overrides
    print("$ " + " ".join(command), flush=True)
    log = run_dir.parent / f"{recipe}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        done = subprocess.run(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        print(f"  failed (exit {done.returncode}); see {log}", flush=True)
        return {}
    return json.loads((run_dir / "summary.json").read_text())


def generated_queries(dataset: str, recipes: list[str], args: argparse.Namespace) -> Path | None:
    """The queries folder of the first of ``recipes`` whose run of ``dataset`` finished generating them."""
    for recipe in recipes:
        marker = Path(args.run_root) / dataset / recipe / "stages" / "queries.json"
        if marker.exists() and json.loads(marker.read_text()).get("finished"):
            return marker.parent.parent / "queries"
    return None


def zero_shot(dataset: str, args: argparse.Namespace) -> dict:
    """Zero-shot MiniLM on the test split (on the recipes' sample of it with --test-max-queries), for datasets
    where only the reranker recipe ran."""
    sample = args.test_max_queries
    out = Path(args.run_root) / dataset / (f"zero-shot-sample{sample}" if sample else "zero-shot") / "results.json"
    if not out.exists():
        command = [sys.executable, "-m", "synthret_ray.cli", "eval", "--data", str(Path(args.data_root) / dataset)]
        command += ["--split", "test", "--retriever", "dense", "--model", "minilm", "--out", str(out), "-q"]
        command += [f"max_queries={sample}"] if sample else []
        print("$ " + " ".join(command), flush=True)
        subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    # results.json: the metrics at its top level; per-query metrics beside it
    return {**json.loads(out.read_text()), "system": "zero-shot", "per_query": output_paths(str(out))["per_query"]}


def paired_test(system: Path, baseline: Path) -> float:
    """p-value of a paired two-sided t-test on per-query nDCG@10 (both runs score the same judged queries)."""
    from scipy.stats import ttest_rel

    def scores(path: Path) -> dict[str, float]:
        rows = (json.loads(line) for line in path.read_text().splitlines())
        return {row["query_id"]: row["ndcg_at_10"] for row in rows}

    ours, theirs = scores(system), scores(baseline)
    if ours.keys() != theirs.keys():
        sys.exit(f"{system} and {baseline} score different queries")
    queries = sorted(ours)
    if all(ours[q] == theirs[q] for q in queries):
        return 1.0  # the same ranking quality on every query (a reranker given weight 0): t is undefined
    return float(ttest_rel([ours[q] for q in queries], [theirs[q] for q in queries]).pvalue)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["scifact", "medquad", "cranfield", "cisi"])
    parser.add_argument("--recipes", nargs="+", default=["sycl", "syntriever", "reranker"], choices=STUDENT)
    parser.add_argument("--data-root", default=str(SHARED_DATASETS))
    parser.add_argument("--run-root", default=str(REPO / "runs" / "quality"))
    parser.add_argument("--passages", type=int, default=120, help="Corpus passages queries are generated from.")
    parser.add_argument("--max-queries", type=int, default=48, help="Training queries kept per recipe.")
    parser.add_argument(
        "--test-max-queries",
        type=int,
        default=None,
        help="Score every system on the same random sample of this many test queries (for a reranker over a "
        "large test split); default: all.",
    )
    parser.add_argument(
        "--set", nargs="*", default=[], help="Extra overrides: key=value for every recipe, recipe:key=value for one."
    )
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "quality.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

    rows: list[dict] = []
    won = cases = 0
    for dataset in args.datasets:
        summaries = {}
        for recipe in args.recipes:
            # One generation of queries per dataset, so that the recipes compare on equal input: a recipe whose
            # folder generated them goes on doing so (its stage is skipped), the others train on those.
            own = generated_queries(dataset, [recipe], args)
            queries = None if own else generated_queries(dataset, list(STUDENT), args)
            summaries[recipe] = run_recipe(dataset, recipe, args, queries)
        systems: dict[str, dict] = {}
        for recipe, summary in summaries.items():
            for name, metrics in (summary.get("evaluation", {}).get("systems", {})).items():
                key = name if name in ("bm25", "zero-shot") else f"{recipe}: {name}"
                results = Path(args.run_root) / dataset / recipe / "evaluate" / f"{evaluation_stem(name)}.json"
                per_query = output_paths(str(results))["per_query"]
                systems.setdefault(key, {**metrics, "recipe": recipe if key != name else "-", "per_query": per_query})
        if "zero-shot" not in systems:
            systems["zero-shot"] = {**zero_shot(dataset, args), "recipe": "-"}
        base = systems["zero-shot"]["ndcg_at_10"]
        for key, metrics in systems.items():
            recipe = metrics["recipe"]
            final = recipe != "-" and key == f"{recipe}: {STUDENT[recipe]}"
            if final:
                cases += 1
                won += metrics["ndcg_at_10"] > base
            rows.append(
                {
                    "dataset": dataset,
                    "system": key,
                    "ndcg_at_10": round(100 * metrics["ndcg_at_10"], 2),
                    "recall_at_100": round(100 * metrics["recall_at_100"], 2),
                    "num_queries": metrics["num_queries"],
                    "final_student": final,
                    "beats_zero_shot": (metrics["ndcg_at_10"] > base) if final else None,
                    "delta_ndcg_at_10": round(100 * (metrics["ndcg_at_10"] - base), 3) if final else None,
                    "p_value": round(paired_test(metrics["per_query"], systems["zero-shot"]["per_query"]), 4)
                    if final
                    else None,
                    # the cross-encoder's weight against its first stage, chosen on dev by the fusion stage
                    "fusion_weight": summaries[recipe].get("stages", {}).get("fusion", {}).get("weight")
                    if recipe.startswith("reranker") and key == f"{recipe}: {STUDENT[recipe]}"
                    else None,
                }
            )
        for recipe in args.recipes:
            if not summaries[recipe]:
                cases += 1  # a recipe that failed counts as a lost case
                rows.append({"dataset": dataset, "system": f"{recipe}: failed", "final_student": True})

    print("\n| dataset | system | test queries | nDCG@10 | R@100 | beats zero-shot | points, p (paired t) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        mark = {True: "yes", False: "no", None: ""}[row.get("beats_zero_shot")]
        delta = f"{row['delta_ndcg_at_10']:+.3f}, p={row['p_value']:.3f}" if row.get("p_value") is not None else ""
        weight = row.get("fusion_weight")
        system = row["system"] + (f" (w={weight})" if weight is not None else "")
        print(
            f"| {row['dataset']} | {system} | {row.get('num_queries', '-')} | {row.get('ndcg_at_10', '-')} "
            f"| {row.get('recall_at_100', '-')} | {mark} | {delta} |"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    settings = {
        "passages": args.passages,
        "max_queries": args.max_queries,
        "test_max_queries": args.test_max_queries,
        "set": args.set,
    }
    Path(args.out).write_text(json.dumps({"settings": settings, "rows": rows}, indent=2))
    print(f"beats_zero_shot={won}/{cases}")


if __name__ == "__main__":
    main()
