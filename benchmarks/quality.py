"""Retrieval quality of the recipes, trained only on data the packaged teachers wrote.

For each dataset and recipe this runs ``synthret run`` (a fresh process, as a user runs it) with the recipe's
CPU config from ``configs/recipes/`` and the protocol's sizes, then collects the test-split numbers of each run's
``summary.json``: BM25, zero-shot MiniLM, the recipe's student(s), and for the reranker recipe BM25 top 100
reranked by the trained cross-encoder (interpolated with BM25 by the weight ``w`` its fusion stage chose on dev);
``reranker-dense`` is the same recipe over zero-shot MiniLM's top 100 instead of BM25's.

The protocol (no arguments): every recipe (Promptagator first: the baseline, and the cheapest to run, so it
generates each dataset's queries) on each of the four shared datasets; training queries written by the
teacher for a seeded sample of ``--passages`` corpus passages, ``--dev-fraction`` of them held out by source
passage as dev (checkpoint and fusion-weight selection); the test split scored on every test query (medquad: the
same seeded sample of 1,000 for every system). ``--teacher`` writes queries and judges (verify, label, prefer);
``--writer`` writes the long texts (distill's passages, graded documents). None of these datasets' test queries
feed synthesis, training or checkpoint selection. The first recipe run on a dataset generates the queries, and
every other recipe, in this run or a later one, reuses them (``train_queries=<that run>/queries``).
Run folders persist under ``--run-root``: a rerun skips finished stages, so an interrupted benchmark resumes.
Each dataset's rows, with each stage's tokens, seconds and CPU-hours, go to ``benchmarks/results/`` as soon as
the dataset is done.

    .venv/bin/python benchmarks/quality.py                        # the whole protocol (make teachers first)
    .venv/bin/python benchmarks/quality.py --datasets cranfield --recipes syntriever
    .venv/bin/python benchmarks/quality.py --summary              # the committed results, one row per case

Each trained system is a case: it wins when its nDCG@10 beats zero-shot MiniLM on the same dataset with p < 0.05
in a paired two-sided t-test over the test queries' nDCG@10 (scipy's ``ttest_rel``); a higher mean inside the
noise is a tie. The last line is ``datasets_with_significant_win=<n>/<datasets>``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from _common import SHARED_DATASETS

from synthret_ray.evaluation.metrics import difference
from synthret_ray.evaluation.runner import output_paths
from synthret_ray.pipeline.runner import evaluation_stem, merged_system

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DATASETS = ["scifact", "medquad", "cranfield", "cisi"]
PROTOCOL = "v2"  # issue 20: Qwen teachers, >= 1,000 generated queries, >= 100 dev; v1 was SmolLM2 at 32-48 queries
SIGNIFICANCE = 0.05
# Test queries scored per dataset (a seeded sample, the same for every system); absent: all of them.
TEST_SAMPLE = {"medquad": 1000}
RECIPE_CONFIGS = {
    "promptagator": REPO / "configs" / "recipes" / "promptagator_cranfield.yaml",
    "sycl": REPO / "configs" / "recipes" / "sycl_cranfield.yaml",
    "syntriever": REPO / "configs" / "recipes" / "syntriever_scifact.yaml",
    "reranker": REPO / "configs" / "recipes" / "reranker_medquad.yaml",
    "reranker-dense": REPO / "configs" / "recipes" / "reranker_medquad.yaml",
}
# Recipes run with fixed overrides of their config, in a run folder of their own.
VARIANTS = {"reranker-dense": ["first_stage.retriever=dense", "first_stage.model=minilm"]}
# Every recipe: questions of up to 40 words (Qwen-1.5B's questions about Cranfield papers ran past 32 tokens for
# 15 of 66 passages), and Promptagator's round trip: a query is kept only if zero-shot MiniLM ranks its source
# passage in its top 20 (it drops generic ones: "what is the purpose of this paper?").
QUERIES = [
    "synthesis.queries.sampling.max_new_tokens=64",
    "synthesis.queries.filters.max_query_words=40",
    "synthesis.queries.filters.round_trip.retriever=dense",
    "synthesis.queries.filters.round_trip.model=minilm",
    "synthesis.queries.filters.round_trip.k=20",
]
# What 2 CPU cores allow: one written negative per query; pairwise preferences (6 prompts per query at k=3, about
# 23 s per query with the 1.5B) for a seeded sample of 60 training queries. Stage 1 trains on each query's source
# passage with in-batch negatives: with the paper's groups (source, written positive, reasoning | written negative)
# the 0.5B writer's passages collapsed it on Cranfield (dev 0.905 -> 0.671; benchmarks/RESULTS.md, protocol v2).
PROTOCOL_OVERRIDES = {
    "syntriever": [
        "synthesis.distill.negatives=1",
        "synthesis.prefer.candidates.k=3",
        "synthesis.prefer.input.limit=60",
        "training.stage1.group.max_positives=1",
        "training.stage1.group.max_negatives=0",
    ]
}
# The style of each dataset's queries, told to the teacher as Promptagator does (an instruction and two worked
# examples, written here, never taken from the datasets' queries); verify and label ask the matching question.
# Every other key is a setting of the queries task.
STYLES: dict[str, dict] = {
    "cranfield": {
        "query_instruction": "You write the question an aeronautical engineer would ask to find this paper. "
        "Reply with only the question.",
        "query_examples": [
            {
                "passage": "the effect of wing sweep on the lift of delta wings at low speeds . experiments in a "
                "low-speed tunnel show that increasing the sweep of a delta wing reduces its lift-curve slope and "
                "delays the stall .",
                "query": "how does wing sweep change the lift and the stall of a delta wing at low speed?",
            },
            {
                "passage": "heat transfer to a cylinder in hypersonic flow . measurements of the heat transfer "
                "rate around a circular cylinder at mach 8 are compared with laminar boundary layer theory .",
                "query": "what heat transfer rates occur on a cylinder in hypersonic flow, and does laminar "
                "theory predict them?",
            },
        ],
    },
    "cisi": {
        "query_instruction": "You write the question a library and information science researcher would ask to "
        "find this article. Reply with only the question.",
        "query_examples": [
            {
                "passage": "A survey of forty university libraries found that users of online catalogues rarely "
                "look beyond the first screen of results, and most searches use a single subject word.",
                "query": "how do people search online library catalogues, and how many results do they read?",
            },
            {
                "passage": "Citation counts of chemistry journals were used to decide which subscriptions a "
                "small college library should keep when its budget was cut.",
                "query": "how can citation data help a library decide which journal subscriptions to keep?",
            },
            {
                "passage": "Scientists in an industrial laboratory learned of new work mainly through talks with "
                "colleagues and visits to conferences, and rarely from abstracting journals.",
                "query": "what sources do industrial scientists use to keep up with new research?",
            },
            {
                "passage": "Two indexers assigned subject terms to the same hundred reports a month apart and agreed "
                "with their own first choices for about sixty percent of the terms.",
                "query": "are indexers consistent when they assign subject terms to the same documents twice?",
            },
        ],
        # CISI has 1,460 abstracts, and over a third of one greedy query each is filtered: two queries per passage
        # reach the protocol's 1,000 training queries, each from its own pair of examples (SmolLM2 rambles when
        # sampled).
        "examples_per_prompt": 2,
        "per_passage": 2,
    },
    "scifact": {
        "query_instruction": "You write a short scientific claim that this abstract supports or refutes. Reply "
        "with only the claim.",
        "query_examples": [
            {
                "passage": "In a trial of 2,000 adults over 70, daily vitamin D supplements for three years did "
                "not change the rate of falls compared with placebo.",
                "query": "Vitamin D supplements reduce falls in older adults.",
            },
            {
                "passage": "Mice lacking the Fto gene were leaner than wild-type mice and spent more energy at "
                "rest, although they ate more.",
                "query": "Loss of Fto reduces body fat in mice.",
            },
        ],
        "judge_question": "Could the passage support or refute the claim?",
    },
    "medquad": {
        "query_instruction": "You write the question a patient would ask that this passage answers. Reply with "
        "only the question.",
        "query_examples": [
            {
                "passage": "Shingles is a painful rash caused by the varicella-zoster virus, the same virus "
                "that causes chickenpox. It can come back years after a person had chickenpox.",
                # written by hand; MedQuAD's test side happens to hold "What causes Shingles ?" (one of its 657
                # "What causes X ?" queries, not in the 1,000 scored): the example shows the template, no more
                "query": "What causes shingles?",
            },
            {
                "passage": "Iron deficiency anemia is treated with iron supplements and with foods rich in iron, "
                "and by finding and treating the cause of the blood loss.",
                "query": "How is iron deficiency anemia treated?",
            },
        ],
    },
}
JUDGING = {
    "syntriever": ["verify"],
    "reranker": ["label"],
    "reranker-dense": ["label"],
    "sycl": [],
    "promptagator": [],
}
# Training stages of each recipe: on this machine one worker with every core (Ray gives a worker with 1 CPU one
# torch thread: Cranfield's stage 1 ran at 0.7 groups/s on it).
TRAINING_STAGES = {
    "promptagator": ["pairs"],
    "sycl": ["listwise"],
    "syntriever": ["stage1", "stage2"],
    "reranker": ["reranker"],
    "reranker-dense": ["reranker"],
}
# Tasks whose long outputs the --writer model writes (the --teacher writes queries and judges).
WRITER_TASKS = {
    "sycl": ["graded"],
    "syntriever": ["distill"],
    "reranker": [],
    "reranker-dense": [],
    "promptagator": [],
}
# The recipe's final student: the system each case compares with zero-shot MiniLM.
STUDENT = {
    "promptagator": "pairs",
    "sycl": "listwise",
    "syntriever": "stage2",
    "reranker": "bm25 >> reranker",
    "reranker-dense": "dense >> reranker",
}


def final_student(recipe: str, summary: dict) -> str:
    """The recipe's student, or that student interpolated with its start model where the run did (merge_weight)."""
    merged = merged_system(STUDENT[recipe])
    return merged if merged in summary.get("evaluation", {}).get("systems", {}) else STUDENT[recipe]


def run_recipe(dataset: str, recipe: str, args: argparse.Namespace, queries: Path | None) -> dict:
    run_dir = Path(args.run_root) / dataset / recipe
    overrides = [
        f"data={Path(args.data_root) / dataset}",
        f"run_dir={run_dir}",
        f"train_queries={queries or 'generate'}",
        "dev_split=null",
        f"passages={args.passages}",
        f"dev_fraction={args.dev_fraction}",
        f"max_queries={args.max_queries or 'null'}",
        *([f"test_max_queries={TEST_SAMPLE[dataset]}"] if dataset in TEST_SAMPLE else []),
        f"teacher.model={args.teacher}",
        *(f"synthesis.{task}.engine.model={args.writer}" for task in WRITER_TASKS[recipe]),
        *(f"training.{stage}.scaling.cpus_per_worker={os.cpu_count()}" for stage in TRAINING_STAGES[recipe]),
        *QUERIES,
        *PROTOCOL_OVERRIDES.get(recipe, []),
        *VARIANTS.get(recipe, []),
        *(value.split(":", 1)[-1] for value in args.set if ":" not in value or value.startswith(f"{recipe}:")),
    ]
    command = [
        sys.executable,
        "-m",
        "synthret_ray.cli",
        "run",
        "--config",
        str(styled_config(dataset, recipe, args)),
        "-q",
    ]
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


def styled_config(dataset: str, recipe: str, args: argparse.Namespace) -> Path:
    """The recipe's config with the dataset's query style (``STYLES``), written beside the run folder."""
    import yaml

    config = yaml.safe_load(RECIPE_CONFIGS[recipe].read_text())
    style = STYLES.get(dataset, {})
    synthesis = config.setdefault("synthesis", {})
    queries = {k: v for k, v in style.items() if k != "judge_question"}
    if queries:
        synthesis.setdefault("queries", {}).update(queries)
    for task in JUDGING[recipe] if "judge_question" in style else []:
        synthesis.setdefault(task, {})["judge_question"] = style["judge_question"]
    out = Path(args.run_root) / dataset / f"{recipe}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def generated_queries(dataset: str, recipes: list[str], args: argparse.Namespace) -> Path | None:
    """The queries folder of the first of ``recipes`` whose run of ``dataset`` finished generating them."""
    for recipe in recipes:
        marker = Path(args.run_root) / dataset / recipe / "stages" / "queries.json"
        if marker.exists() and json.loads(marker.read_text()).get("finished"):
            return marker.parent.parent / "queries"
    return None


def queries_for(dataset: str, recipe: str, args: argparse.Namespace) -> Path | None:
    """The queries ``recipe`` trains on: None (generate them) where its own folder generated them or none has,
    else the folder of the recipe that did."""
    own = generated_queries(dataset, [recipe], args)
    return None if own else generated_queries(dataset, list(STUDENT), args)


def zero_shot(dataset: str, args: argparse.Namespace) -> dict:
    """Zero-shot MiniLM on the test split (on the recipes' sample of it, where the protocol samples), for
    datasets where only the reranker recipe ran."""
    sample = TEST_SAMPLE.get(dataset)
    out = Path(args.run_root) / dataset / (f"zero-shot-sample{sample}" if sample else "zero-shot") / "results.json"
    if not out.exists():
        command = [sys.executable, "-m", "synthret_ray.cli", "eval", "--data", str(Path(args.data_root) / dataset)]
        command += ["--split", "test", "--retriever", "dense", "--model", "minilm", "--out", str(out), "-q"]
        command += [f"max_queries={sample}"] if sample else []
        print("$ " + " ".join(command), flush=True)
        subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    # results.json: the metrics at its top level; per-query metrics beside it
    return {**json.loads(out.read_text()), "system": "zero-shot", "per_query": output_paths(str(out))["per_query"]}


def stage_costs(summary: dict) -> dict[str, dict]:
    """Each stage's seconds, tokens and CPU/GPU-hours, from a run's summary.json."""
    keep = ("wall_seconds", "synthesis_seconds", "calls", "rows", "generated_tokens", "prompt_tokens")
    return {
        stage: {k: v for k, v in values.items() if k in keep or k.endswith("_hours")}
        for stage, values in summary.get("stages", {}).items()
    }


def dataset_rows(dataset: str, recipes: list[str], summaries: dict[str, dict], args: argparse.Namespace) -> list[dict]:
    """One row per system of ``dataset``: BM25, zero-shot, every student; final students carry their difference
    from zero-shot and its p-value."""
    systems: dict[str, dict] = {}
    for recipe, summary in summaries.items():
        for name, metrics in (summary.get("evaluation", {}).get("systems", {})).items():
            key = name if name in ("bm25", "zero-shot") else f"{recipe}: {name}"
            results = Path(args.run_root) / dataset / recipe / "evaluate" / f"{evaluation_stem(name)}.json"
            per_query = output_paths(str(results))["per_query"]
            systems.setdefault(key, {**metrics, "recipe": recipe if key != name else "-", "per_query": per_query})
    if "zero-shot" not in systems:
        systems["zero-shot"] = {**zero_shot(dataset, args), "recipe": "-"}
    base = systems["zero-shot"]
    rows = []
    for key, metrics in systems.items():
        recipe = metrics["recipe"]
        final = recipe != "-" and key == f"{recipe}: {final_student(recipe, summaries[recipe])}"
        row = {
            "dataset": dataset,
            "system": key,
            "ndcg_at_10": round(100 * metrics["ndcg_at_10"], 2),
            "recall_at_100": round(100 * metrics["recall_at_100"], 2),
            "num_queries": metrics["num_queries"],
            "final_student": final,
        }
        if final:
            try:  # both runs score the same judged queries
                delta, p_value = difference(metrics, base, metrics["per_query"], base["per_query"])
            except ValueError as exc:
                sys.exit(str(exc))
            if p_value is None:
                sys.exit(f"{key}: per-query results missing ({metrics['per_query']} or {base['per_query']})")
            row |= {
                "zero_shot_ndcg_at_10": round(100 * base["ndcg_at_10"], 2),  # the reference of delta and p
                "delta_ndcg_at_10": round(100 * delta, 3),
                "p_value": float(f"{p_value:.3g}"),  # three significant digits: a small p stays readable
                "significant_win": bool(delta > 0 and p_value < SIGNIFICANCE),
            }
            if recipe.startswith("reranker"):  # the cross-encoder's weight against its first stage, chosen on dev
                row["fusion_weight"] = summaries[recipe].get("stages", {}).get("fusion", {}).get("weight")
        rows.append(row)
    for recipe in recipes:
        if not summaries.get(recipe):
            rows.append({"dataset": dataset, "system": f"{recipe}: failed", "final_student": True})
    return rows


def of_protocol(results_file: dict) -> bool:
    """Whether a results file's rows were measured under this protocol."""
    return results_file.get("settings", {}).get("protocol") == PROTOCOL


def recipe_of(row: dict) -> str:
    """The recipe of a results row ("-" for BM25 and zero-shot)."""
    return row["system"].split(": ", 1)[0] if ": " in row["system"] else "-"


def carried_recipes(earlier: dict, summaries: dict[str, dict]) -> list[str]:
    """Recipes of an earlier results file that neither this invocation nor a run folder on disk brings: their
    rows stay as that file has them (run folders are often gone by the next run, e.g. on a fresh checkout), each
    difference and p-value against the zero-shot of the run that made it (``carried_rows``). Rows of another
    protocol are never carried."""
    if not of_protocol(earlier):
        return []
    return [recipe for recipe in earlier.get("commands", {}) if recipe not in summaries]


def carried_rows(earlier: dict, carried: list[str]) -> list[dict]:
    """The rows of the ``carried`` recipes in an earlier results file, each final student with the zero-shot
    nDCG@10 its difference was measured against (that file's zero-shot row where the row lacks it: zero-shot
    scores can move by a few hundredths between machines)."""
    rows = earlier.get("rows", [])
    base = next((row["ndcg_at_10"] for row in rows if row["system"] == "zero-shot"), None)
    return [
        {**row, "zero_shot_ndcg_at_10": row.get("zero_shot_ndcg_at_10", base)} if "p_value" in row else row
        for row in rows
        if recipe_of(row) in carried
    ]


def print_table(rows: list[dict]) -> None:
    print("\n| dataset | system | test queries | nDCG@10 | R@100 | vs zero-shot: points, p (paired t) |")
    print("|---|---|---|---|---|---|")
    zero_shot = {row["dataset"]: row.get("ndcg_at_10") for row in rows if row["system"] == "zero-shot"}
    for row in rows:
        verdict = ""
        if row.get("p_value") is not None:
            word = "win" if row["significant_win"] else ("loss" if row["p_value"] < SIGNIFICANCE else "tie")
            verdict = f"{word}: {row['delta_ndcg_at_10']:+.3f}, p={row['p_value']:.3g}"
            reference = row.get("zero_shot_ndcg_at_10")
            if reference is not None and reference != zero_shot.get(row["dataset"]):  # a row of an earlier run
                verdict += f" (against zero-shot {reference})"
        weight = row.get("fusion_weight")
        system = row["system"] + (f" (w={weight})" if weight is not None else "")
        print(
            f"| {row['dataset']} | {system} | {row.get('num_queries', '-')} | {row.get('ndcg_at_10', '-')} "
            f"| {row.get('recall_at_100', '-')} | {verdict} |"
        )


def significant_wins(results: dict[str, list[dict]]) -> str:
    won = sum(any(row.get("significant_win") for row in rows) for rows in results.values())
    return f"datasets_with_significant_win={won}/{len(set(DATASETS) | set(results))}"


def committed(results_dir: Path) -> dict[str, list[dict]]:
    """Each dataset's rows in ``results_dir`` under this protocol."""
    results = {}
    for path in sorted(results_dir.glob("quality_*.json")):
        data = json.loads(path.read_text())
        if of_protocol(data):
            results[data["dataset"]] = data["rows"]
    return results


def summary(results_dir: Path) -> None:
    """The committed results of this protocol: one row per dataset and system, then the count of datasets where
    a recipe's final student beats zero-shot MiniLM significantly."""
    results = committed(results_dir)
    print_table(
        [row for dataset in DATASETS + sorted(set(results) - set(DATASETS)) for row in results.get(dataset, [])]
    )
    missing = [dataset for dataset in DATASETS if dataset not in results]
    if missing:
        print(f"not run under protocol {PROTOCOL}: {', '.join(missing)}")
    print(significant_wins(results))


def offline() -> None:
    """The runs' environment: no model hub, no usage reporting."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def build_parser(description: str = __doc__) -> argparse.ArgumentParser:
    """The protocol's settings (``benchmarks/teacher_ablation.py`` runs the same protocol with other teachers)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--summary", action="store_true", help="Print the committed results and exit.")
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument(
        "--recipes",
        nargs="+",
        default=["promptagator", "syntriever", "reranker-dense", "reranker", "sycl"],
        choices=STUDENT,
    )
    parser.add_argument("--data-root", default=str(SHARED_DATASETS))
    parser.add_argument("--run-root", default=str(REPO / "runs" / "quality"))
    # 1,400: all of Cranfield, and after the filters (Cranfield kept 1,057 of 1,300) about 1,000 training queries
    parser.add_argument("--passages", type=int, default=1400, help="Corpus passages queries are generated from.")
    parser.add_argument("--dev-fraction", type=float, default=0.1, help="Share of generated queries held out as dev.")
    parser.add_argument("--max-queries", type=int, default=None, help="Cap on training queries; default: all.")
    parser.add_argument("--teacher", default="qwen-coder-1.5b", help="Writes queries, judges (verify, label, prefer).")
    parser.add_argument("--writer", default="qwen-coder-0.5b", help="Writes distill's passages and graded documents.")
    parser.add_argument(
        "--set", nargs="*", default=[], help="Extra overrides: key=value for every recipe, recipe:key=value for one."
    )
    parser.add_argument("--results", default=str(RESULTS), help="Folder of quality_<dataset>.json.")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if args.summary:
        return summary(Path(args.results))
    offline()

    settings = {
        "protocol": PROTOCOL,
        "command": " ".join(["benchmarks/quality.py", *sys.argv[1:]]),
        "passages": args.passages,
        "dev_fraction": args.dev_fraction,
        "max_queries": args.max_queries,
        "teacher": args.teacher,
        "writer": args.writer,
        "test_sample": TEST_SAMPLE,
        "set": args.set,
    }
    for dataset in args.datasets:
        summaries = {}
        for recipe in args.recipes:
            # One generation of queries per dataset, so that the recipes compare on equal input: a recipe whose
            # folder generated them goes on doing so (its stage is skipped), the others train on those.
            summaries[recipe] = run_recipe(dataset, recipe, args, queries_for(dataset, recipe, args))
        for recipe in STUDENT:  # recipes finished by an earlier invocation stay in the dataset's results
            done = Path(args.run_root) / dataset / recipe / "summary.json"
            if recipe not in summaries and done.exists():
                summaries[recipe] = json.loads(done.read_text())
        rows = dataset_rows(dataset, args.recipes, summaries, args)
        costs = {recipe: stage_costs(summary) for recipe, summary in summaries.items() if summary}
        out = Path(args.results) / f"quality_{dataset}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        earlier = json.loads(out.read_text()) if out.exists() else {}
        carried = carried_recipes(earlier, summaries)
        rows += carried_rows(earlier, carried)
        costs |= {recipe: earlier.get("costs", {}).get(recipe, {}) for recipe in carried}
        # each recipe's rows come from the last command that ran it, which may be an earlier one than this
        commands = {**earlier.get("commands", {}), **{recipe: settings["command"] for recipe in args.recipes}}
        results_file = {"dataset": dataset, "settings": settings, "commands": commands, "rows": rows, "costs": costs}
        out.write_text(json.dumps(results_file, indent=2))
        print_table(rows)
    # over every dataset's results in the folder, this run's and earlier ones (a run of one dataset counts the
    # wins of the others too)
    print(significant_wins(committed(Path(args.results))))


if __name__ == "__main__":
    main()
