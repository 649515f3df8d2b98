"""benchmarks/quality.py's count of datasets won (``significant_wins(committed(folder))``, the last line of both
``--summary`` and a benchmark run): over every results file of its protocol in the folder. A run's own path to
that line runs recipes and is not exercised here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def results_file(folder: Path, dataset: str, protocol: str, win: bool) -> None:
    row = {"dataset": dataset, "system": "promptagator: pairs", "final_student": True, "ndcg_at_10": 50.0}
    row |= {"delta_ndcg_at_10": 2.0 if win else -1.0, "p_value": 0.01 if win else 0.3, "significant_win": win}
    data = {"dataset": dataset, "settings": {"protocol": protocol}, "rows": [row]}
    (folder / f"quality_{dataset}.json").write_text(json.dumps(data))


def quality_module():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import quality
    finally:
        sys.path.remove(str(BENCHMARKS))
    return quality


def test_a_run_that_merged_its_student_is_judged_by_the_merged_model():
    quality = quality_module()
    plain = {"evaluation": {"systems": {"zero-shot": {}, "pairs": {}}}}
    merged = {"evaluation": {"systems": {"zero-shot": {}, "pairs": {}, "pairs-merged": {}}}}
    assert quality.final_student("promptagator", plain) == "pairs"
    assert quality.final_student("promptagator", merged) == "pairs-merged"
    assert quality.final_student("syntriever", {}) == "stage2"  # a failed run has no evaluation


def test_summary_counts_the_wins_of_every_dataset_of_the_protocol(tmp_path):
    quality = quality_module()
    results_file(tmp_path, "medquad", quality.PROTOCOL, win=True)
    results_file(tmp_path, "scifact", quality.PROTOCOL, win=False)
    results_file(tmp_path, "cranfield", "v1", win=True)  # another protocol's rows do not count
    rows = quality.committed(tmp_path)
    assert sorted(rows) == ["medquad", "scifact"]
    assert quality.significant_wins(rows) == "datasets_with_significant_win=1/4"

    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "quality.py"), "--summary", "--results", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "datasets_with_significant_win=1/4"
    assert "not run under protocol" in lines[-2] and "cranfield" in lines[-2] and "cisi" in lines[-2]
    assert any("| medquad | promptagator: pairs |" in line and "win: +2.000, p=0.01" in line for line in lines)


def test_recipes_that_neither_this_run_nor_a_run_folder_brings_keep_their_earlier_rows(capsys):
    quality = quality_module()
    earlier = {
        "settings": {"protocol": quality.PROTOCOL},
        "commands": {"sycl": "quality.py --recipes sycl", "reranker-dense": "...", "promptagator": "..."},
        "rows": [
            {"system": "zero-shot", "ndcg_at_10": 38.08},
            {"system": "sycl: listwise", "ndcg_at_10": 38.09, "p_value": 0.99},
            {"system": "promptagator: pairs", "ndcg_at_10": 39.45, "p_value": 0.09},
            {"system": "reranker-dense: dense", "ndcg_at_10": 38.08},
            {"system": "reranker-dense: dense >> reranker", "p_value": 0.5, "zero_shot_ndcg_at_10": 38.2},
            {"system": "reranker: failed"},
        ],
    }
    summaries = {"promptagator": {"evaluation": {}}, "reranker": {}}  # run now (reranker failed now)
    carried = quality.carried_recipes(earlier, summaries)
    assert carried == ["sycl", "reranker-dense"]
    assert quality.carried_recipes({**earlier, "settings": {"protocol": "v1"}}, summaries) == []
    recipes = ["-", "sycl", "promptagator", "reranker-dense", "reranker-dense", "reranker"]
    assert [quality.recipe_of(row) for row in earlier["rows"]] == recipes
    # each carried final student keeps the zero-shot score its p-value was measured against
    assert quality.carried_rows(earlier, carried) == [
        {"system": "sycl: listwise", "ndcg_at_10": 38.09, "p_value": 0.99, "zero_shot_ndcg_at_10": 38.08},
        {"system": "reranker-dense: dense", "ndcg_at_10": 38.08},
        {"system": "reranker-dense: dense >> reranker", "p_value": 0.5, "zero_shot_ndcg_at_10": 38.2},
    ]
    # the table names the other reference where it is not the zero-shot row shown
    rows = [
        {"dataset": "cranfield", "system": "zero-shot", "ndcg_at_10": 38.17},
        {"dataset": "cranfield", "system": "sycl: listwise", "ndcg_at_10": 38.09, "p_value": 0.99},
        {"dataset": "cranfield", "system": "promptagator: pairs", "ndcg_at_10": 39.24, "p_value": 0.04},
    ]
    rows[1] |= {"delta_ndcg_at_10": 0.01, "significant_win": False, "zero_shot_ndcg_at_10": 38.08}
    rows[2] |= {"delta_ndcg_at_10": 1.07, "significant_win": True, "zero_shot_ndcg_at_10": 38.17}
    quality.print_table(rows)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].endswith("| tie: +0.010, p=0.99 (against zero-shot 38.08) |")
    assert lines[-1].endswith("| win: +1.070, p=0.04 |")
