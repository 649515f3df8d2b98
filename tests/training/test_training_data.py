from __future__ import annotations

import pytest

from synthret_ray.data import DataFormatError
from synthret_ray.training.batching import collate_group, collate_listwise, collate_preference, collate_rerank
from synthret_ray.training.config import GroupConfig
from synthret_ray.training.data import check_training_rows, load_training_rows, write_pairs_from_beir
from tests.training.conftest import training_rows, write_rows

STAGES = ["pairs", "distill", "align", "listwise", "reranker"]


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_fixture_files_load(stage, suffix, stage_file):
    loaded = load_training_rows(str(stage_file(stage, suffix)), stage)
    assert len(loaded.rows) == 8 and not loaded.skipped


@pytest.mark.parametrize(
    ("stage", "change", "field", "message"),
    [
        ("pairs", lambda r: r.pop("positive"), "positive", "missing"),
        ("pairs", lambda r: r.update(query="  "), "query", "must be a non-empty string"),
        ("distill", lambda r: r.update(positives=[]), "positives", "empty group: the query has no positive"),
        ("distill", lambda r: r.update(negatives=["ok", ""]), "negatives", "holds an empty or non-string text"),
        ("reranker", lambda r: r.update(negatives=[]), "negatives", "empty group"),
        (
            "listwise",
            lambda r: r.update(labels=[3, 2, 7, 0]),
            "labels",
            r"labels must be integers in 0\.\.3, got \[7\]",
        ),
        ("listwise", lambda r: r.update(labels=[0, 0, 0, 0]), "labels", "no relevant document"),
        ("listwise", lambda r: r.update(labels=[3, 2]), "labels", "2 labels for 4 documents"),
        ("align", lambda r: r.pop("query_id"), "query_id", "missing"),
    ],
)
def test_bad_rows_name_file_row_and_field(tmp_path, stage, change, field, message):
    rows = training_rows(stage)
    change(rows[4])
    path = write_rows(tmp_path / f"{stage}.jsonl", rows)
    with pytest.raises(DataFormatError, match=rf"{stage}\.jsonl:5: field '{field}': {message}"):
        load_training_rows(str(path), stage)
    loaded = load_training_rows(str(path), stage, skip_invalid=True)
    assert len(loaded.rows) == 7 and sum(loaded.skipped.values()) == 1
    assert check_training_rows(str(path), stage, skip_invalid=True)[0] == 7


def test_missing_data_and_unknown_stage(tmp_path):
    with pytest.raises(DataFormatError, match="training data not found"):
        load_training_rows(str(tmp_path / "nope.parquet"), "pairs")
    with pytest.raises(KeyError, match="unknown stage 'pair'"):
        load_training_rows(str(tmp_path), "pair")


def test_collate_group_pads_to_fixed_width():
    rows = training_rows("distill")[:2]
    rows[1]["negatives"] = rows[1]["negatives"][:1]
    batch = collate_group(rows, "distill", "syntriever_distill", GroupConfig(max_positives=3, max_negatives=2))
    assert batch.labels.tolist() == [[1, 1, 0, 0, -1], [1, 1, 0, -1, -1]]
    assert batch.slots.tolist() == [[0, 1, 2, 3, -1], [4, 5, 6, -1, -1]]
    assert len(batch.docs) == 7
    single = collate_group(rows, "distill", "infonce", GroupConfig(max_negatives=2))
    assert single.labels.tolist() == [[1, 0, 0], [1, 0, -1]]  # infonce keeps the first positive only


def test_collate_listwise_keeps_each_level_first():
    row = {"query": "q", "documents": ["a0", "b3", "c1", "d3", "e2"], "labels": [0, 3, 1, 3, 2]}
    batch = collate_listwise([row], GroupConfig(listwise_size=4))
    assert batch.docs == ["b3", "e2", "c1", "a0"] and batch.labels.tolist() == [[3.0, 2.0, 1.0, 0.0]]
    short = collate_listwise([{"query": "q", "documents": ["x", "y"], "labels": [1, 0]}], GroupConfig(listwise_size=3))
    assert short.mask.tolist() == [[True, True, False]]  # padded with a masked slot, not a repeated document


def test_groups_are_drawn_anew_each_epoch_with_a_seed():
    """Pins per-epoch sampling of listwise and reranker groups (always the same members before)."""
    from synthret_ray.training.steps import group_rng

    row = {"query": "q", "documents": [f"d{i}" for i in range(8)], "labels": [3, 3, 2, 2, 1, 1, 0, 0]}
    lists = {
        tuple(collate_listwise([row], GroupConfig(listwise_size=4), group_rng(0, e, 0, 0)).docs) for e in range(6)
    }
    assert len(lists) > 1  # other members in other epochs
    for docs in lists:  # still one document of each level, most relevant first
        assert [int(d[1:]) // 2 for d in docs] == [0, 1, 2, 3]
    again = collate_listwise([row], GroupConfig(listwise_size=4), group_rng(0, 1, 0, 0)).docs
    assert again == collate_listwise([row], GroupConfig(listwise_size=4), group_rng(0, 1, 0, 0)).docs  # seeded
    rerank = {"query": "q", "positive": "p", "negatives": [f"n{i}" for i in range(10)]}
    drawn = {
        tuple(collate_rerank([rerank], GroupConfig(reranker_negatives=3), group_rng(0, e, 0, 0)).pairs)
        for e in range(6)
    }
    assert len(drawn) > 1


def test_collate_rerank_and_preference():
    rows = training_rows("reranker")[:2]
    batch = collate_rerank(rows, GroupConfig(reranker_negatives=5))
    assert batch.group_size == 6 and len(batch.pairs) == 12
    assert batch.pairs[0] == (rows[0]["query"], rows[0]["positive"])
    assert batch.mask[0].tolist() == [True] * 4 + [False] * 2  # three negatives and two masked slots
    pref = collate_preference(training_rows("align")[:2] + training_rows("align")[:1])
    assert pref.query_keys[0] == pref.query_keys[2] != pref.query_keys[1]


def test_export_pairs_from_beir(tmp_path):
    from tests.conftest import write_beir

    root = write_beir(tmp_path / "b", split="train")
    n = write_pairs_from_beir(str(root), "train", tmp_path / "pairs.parquet")
    assert n == 4 and len(load_training_rows(str(tmp_path / "pairs.parquet"), "pairs").rows) == 4
    with pytest.raises(ValueError, match="refusing to export the test split"):
        write_pairs_from_beir(str(root), "test", tmp_path / "x.parquet")


def test_train_cli_reports_user_errors_before_starting_ray(tmp_path):
    from typer.testing import CliRunner

    from synthret_ray.cli import app

    rows = training_rows("listwise")
    rows[2]["labels"] = [3, 2, 1, 9]
    path = write_rows(tmp_path / "graded.jsonl", rows)
    runner = CliRunner()
    bad_row = runner.invoke(app, ["train", "--stage", "listwise", f"train_data={path}"])
    assert bad_row.exit_code == 2 and "graded.jsonl:3: field 'labels'" in bad_row.output
    bad_key = runner.invoke(app, ["train", "--stage", "listwise", f"train_data={path}", "optim.learning_rate=1"])
    assert bad_key.exit_code == 2 and "unknown config key 'optim.learning_rate'" in bad_key.output
