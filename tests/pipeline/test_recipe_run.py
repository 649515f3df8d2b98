"""`synthret run`: a whole (tiny) SyCL recipe on Ray with the packaged teacher and student, stage skipping by
config hash, --from, and the rules that keep test queries out of synthesis, training and checkpoint selection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthret_ray.config import ConfigError, load_config
from synthret_ray.data.beir import DataFormatError
from synthret_ray.pipeline import RecipeConfig, run_recipe
from tests.conftest import TINY_QRELS, TINY_QUERIES, write_beir

TRAIN_QUERIES = {
    "t1": "how is sourdough leavened",
    "t2": "biggest reef off queensland",
    "t3": "gas giant with a red spot",
    "t4": "what escapes from a volcano",
}
TRAIN_QRELS = {"t1": {"d1": 1}, "t2": {"d2": 1}, "t3": {"d6": 1}, "t4": {"d4": 1}}


def tiny_dataset(root: Path, train_qrels: dict | None = None) -> Path:
    queries = {**TINY_QUERIES, **TRAIN_QUERIES}
    write_beir(root, queries=queries, qrels=TINY_QRELS, split="test")
    return write_beir(root, queries=queries, qrels=train_qrels or TRAIN_QRELS, split="train")


def recipe(data: Path, run_dir: Path, **values) -> RecipeConfig:
    base = {
        "recipe": "sycl",
        "data": str(data),
        "run_dir": str(run_dir),
        "train_queries": "train",
        "dev_fraction": 0.25,
        "teacher": {"num_actors": 1, "cpus_per_actor": 1, "batch_size": 8},
        "synthesis": {"graded": {"levels": [3, 0], "sampling": {"max_new_tokens": 40}}},
        "training": {
            "listwise": {"optim": {"epochs": 1, "batch_size": 2, "max_seq_length": 64}, "group": {"listwise_size": 2}}
        },
        "progress": False,
    }
    return RecipeConfig.model_validate({**base, **values})


@pytest.mark.slow
def test_sycl_recipe_runs_skips_finished_stages_and_redoes_from_a_stage(ray_local, tmp_path):
    data = tiny_dataset(tmp_path / "data")
    run_dir = tmp_path / "run"
    cfg = recipe(data, run_dir)
    ran: list[str] = []
    summary = run_recipe(cfg, log=ran.append)
    assert ran == [f"[{s}] running" for s in ("split", "graded", "listwise", "evaluate")]

    split = summary["stages"]["split"]
    assert (split["train_queries"], split["dev_queries"], split["dropped_test_queries"]) == (3, 1, 0)
    train_ids = {json.loads(line)["_id"] for line in (run_dir / "split/train/queries.jsonl").read_text().splitlines()}
    dev_ids = {json.loads(line)["_id"] for line in (run_dir / "split/dev/queries.jsonl").read_text().splitlines()}
    assert train_ids | dev_ids == set(TRAIN_QUERIES) and not train_ids & dev_ids
    assert (run_dir / "split/dev/corpus.jsonl").is_symlink()
    assert summary["stages"]["graded"]["exported"]["listwise.parquet"] >= 1
    systems = summary["evaluation"]["systems"]
    assert set(systems) == {"bm25", "zero-shot", "listwise"}
    assert all(s["num_queries"] == len(TINY_QUERIES) for s in systems.values())  # the test split, scored once
    assert json.loads((run_dir / "summary.json").read_text()) == json.loads(json.dumps(summary, default=str))

    ran.clear()
    again = run_recipe(cfg, log=ran.append)
    assert all(line.endswith("skipped") for line in ran) and again["evaluation"] == summary["evaluation"]

    ran.clear()
    run_recipe(cfg, from_stage="listwise", log=ran.append)
    assert ran[:2] == [
        "[split] done before with the same config, skipped",
        "[graded] done before with the same config, skipped",
    ]
    assert ran[2:] == ["[listwise] running", "[evaluate] running"]


def test_test_queries_never_train_or_select_checkpoints(tmp_path):
    with pytest.raises(ValueError, match="train_queries: the test split never feeds"):
        recipe(tmp_path, tmp_path / "r", train_queries="test")
    with pytest.raises(ValueError, match="dev_split: the test split never selects checkpoints"):
        recipe(tmp_path, tmp_path / "r", dev_split="test")
    with pytest.raises(ValueError, match="synthesis.distill: not a task of recipe sycl"):
        recipe(tmp_path, tmp_path / "r", synthesis={"distill": {"negatives": 2}})


def test_split_drops_training_queries_judged_in_test(tmp_path):
    from synthret_ray.pipeline.splits import split_queries

    leaky = {**TRAIN_QRELS, "q1": {"d1": 1}, "q2": {"d2": 1}}  # two test queries also listed as training ones
    data = tiny_dataset(tmp_path / "data", train_qrels=leaky)
    out = split_queries(recipe(data, tmp_path / "run"), "", str(tmp_path / "split"))
    assert out["dropped_test_queries"] == 2 and out["train_queries"] + out["dev_queries"] == len(TRAIN_QUERIES)
    only_leaks = tiny_dataset(tmp_path / "data2", train_qrels={"q1": {"d1": 1}})
    with pytest.raises(DataFormatError, match="no training queries left"):
        split_queries(recipe(only_leaks, tmp_path / "run2"), "", str(tmp_path / "split2"))


def test_stage_settings_are_validated_with_their_prefix(tmp_path):
    from synthret_ray.pipeline.runner import RecipeRun

    cfg = recipe(tmp_path, tmp_path / "r", synthesis={"graded": {"levels": [7]}})
    with pytest.raises(ConfigError, match="synthesis.graded"):
        RecipeRun(cfg).query_task("graded")
    with pytest.raises(ConfigError, match="--from: 'stage2' is not a stage of this run"):
        RecipeRun(recipe(tmp_path, tmp_path / "r"), from_stage="stage2")


def test_shipped_recipes_validate():
    configs = Path(__file__).resolve().parents[2] / "configs"
    paths = [configs / "quickstart.yaml", *sorted((configs / "recipes").glob("*.yaml"))]
    for path in paths:
        assert path.read_text().startswith("#")
        load_config(RecipeConfig, path)
