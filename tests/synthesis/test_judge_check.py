"""The judge, measured: labelled pairs from a dev folder, the task's own prompt, and a report against the labels."""

from __future__ import annotations

import pyarrow as pa
import pytest

from synthret_ray.synthesis.config import SynthesisConfig
from synthret_ray.synthesis.inputs import build_units
from synthret_ray.synthesis.judge_check import KINDS, JudgeCheckTask, auc, best_threshold
from synthret_ray.synthesis.pipeline import make_task
from tests.conftest import TINY_CORPUS, write_beir


def check_cfg(data, task: str = "verify", **values) -> SynthesisConfig:
    return SynthesisConfig(
        task=task,
        input={"data": str(data)},
        output_dir="unused",
        judge_check={"data": str(data), "split": "dev", "queries": 3},
        **values,
    )


def test_pairs_are_a_judged_passage_bm25s_top_unjudged_one_and_a_random_unjudged_one(tmp_path):
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 2, "d4": 0}, "q4": {"d5": 1}, "q3": {"d3": 0}}
    data = write_beir(tmp_path / "dev", qrels=qrels, split="dev")
    cfg = check_cfg(data)
    task = make_task(cfg)
    assert isinstance(task, JudgeCheckTask)
    units, _ = build_units(cfg, task)
    by_query: dict[str, dict[str, str]] = {}
    for unit in units:
        by_query.setdefault(unit["query_id"], {})[unit["kind"]] = unit["doc_id"]
    # q3 has no relevant passage: not asked. BM25 ranks no unjudged passage for q1 and q4 (no word in common):
    # their pairs are the judged and a random passage; q2's "largest" ranks d6 ("the largest planet") first
    assert by_query == {
        "q1": {"judged": "d1", "random": by_query["q1"]["random"]},
        "q2": {"judged": "d2", "top_ranked": "d6", "random": by_query["q2"]["random"]},
        "q4": {"judged": "d5", "random": by_query["q4"]["random"]},
    }
    for q, kinds in by_query.items():  # never a passage judged for the query, relevant or not
        assert kinds["random"] not in qrels[q] and kinds["random"] in TINY_CORPUS
    assert [u["kind"] for u in units if u["query_id"] == "q2"] == list(KINDS)
    again, _ = build_units(cfg, task)
    assert again == units  # seeded: the same pairs on a rerun
    assert len({u["id"] for u in units}) == len(units)


def test_the_test_split_and_other_tasks_are_refused(tmp_path):
    with pytest.raises(ValueError, match="judge_check.split: 'test' is input.test_split"):
        SynthesisConfig(task="label", input={"data": "d"}, output_dir="o", judge_check={"data": "d", "split": "test"})
    with pytest.raises(ValueError, match="judge_check: measures the judge of verify or label, not of task=distill"):
        SynthesisConfig(
            task="distill", input={"data": "d", "queries": "train"}, output_dir="o", judge_check={"data": "d"}
        )


def test_the_prompt_is_the_tasks_own_and_the_verdict_comes_from_p_yes(tmp_path):
    cfg = check_cfg(tmp_path, judge_question="Same topic?", judge_threshold=0.6)
    task = make_task(cfg)
    unit = {
        "id": "u",
        "query_id": "q",
        "query": "tides",
        "doc_id": "d",
        "passage": "The Moon pulls the sea.",
        "kind": "judged",
    }
    part = task.parts(unit)[0]
    assert part.choices == ("yes", "no") and part.messages[-1]["content"].endswith("Same topic?")
    assert task.assemble(unit, {"verdict": "no"}, {"verdict": {"yes": 0.65, "no": 0.35}}).fields == {
        "label": 1,
        "p_relevant": 0.65,
    }
    out = task.assemble(unit, {"verdict": "perhaps"}, {})
    assert out.status == "malformed" and out.reason == "verdict: unreadable label"
    graded = make_task(check_cfg(tmp_path, task="label", graded_labels=True))
    assert graded.parts(unit)[0].choices == ("0", "1", "2", "3")
    assert graded.assemble(unit, {"verdict": "3"}, {}).fields == {"label": 3, "p_relevant": None}


def test_the_report_by_hand():
    rows = [
        {"kind": "judged", "label": 1, "p_relevant": 0.9},
        {"kind": "judged", "label": 0, "p_relevant": 0.4},
        {"kind": "top_ranked", "label": 1, "p_relevant": 0.6},
        {"kind": "top_ranked", "label": 0, "p_relevant": 0.4},
        {"kind": "random", "label": 0, "p_relevant": 0.1},
        {"kind": "random", "label": 0, "p_relevant": 0.2},
    ]
    report = make_task(check_cfg("unused")).judge_report(rows)
    # right: judged 1 of 2, top_ranked 1 of 2 (called not relevant), random 2 of 2 -> 4 / 6
    assert report["accuracy"] == round(4 / 6, 4) and report["pairs"] == {"judged": 2, "top_ranked": 2, "random": 2}
    assert report["share_called_relevant"] == {"judged": 0.5, "top_ranked": 0.5, "random": 0.0}
    # judged (0.9, 0.4) against top_ranked (0.6, 0.4): 0.9 wins twice, 0.4 loses once and ties once -> 2.5 / 4
    assert report["auc_judged_vs_top_ranked"] == 0.625 and report["auc_judged_vs_random"] == 1.0
    assert auc([0.5], []) is None
    # cuts 0.1 / 0.2 / 0.4 / 0.6 / 0.9 on judged (0.9, 0.4) against the rest (0.6, 0.4, 0.1, 0.2):
    # 0.4 -> (2/2 + 2/4) / 2 = 0.75; 0.6 -> (1/2 + 3/4) / 2 = 0.625; 0.9 -> (1/2 + 4/4) / 2 = 0.75 (the lower wins)
    assert report["best_threshold"] == {"threshold": 0.4, "balanced_accuracy": 0.75}
    assert best_threshold([0.9], [0.1]) == {"threshold": 0.9, "balanced_accuracy": 1.0}


def test_export_is_one_row_per_pair():
    rows = [
        {"id": "u", "query_id": "q", "query": "tides", "doc_id": "d", "passage": "p", "kind": "random", "label": 0,
         "p_relevant": 0.2}
    ]  # fmt: skip
    files = make_task(check_cfg("unused")).export(rows)
    assert list(files) == ["judge_check.parquet"]
    assert pa.Table.from_pylist(files["judge_check.parquet"]).column_names == [
        "query_id", "query", "doc_id", "kind", "label", "p_relevant", "passage"
    ]  # fmt: skip
