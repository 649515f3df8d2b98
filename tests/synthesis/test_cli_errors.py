"""`synthret synthesize` on bad input: exit code 2, a message naming the file, line or key, and no run folder."""

from __future__ import annotations

from tests.conftest import run_synthret, write_beir


def synthesize(*args: str):
    return run_synthret("synthesize", "-q", *args, timeout=120)


def test_missing_model(tmp_path):
    out = synthesize(
        "--task", "queries", "--out", str(tmp_path / "run"), f"input.data={tmp_path}", "engine.model=./no/such/model"
    )
    assert out.returncode == 2 and "model path './no/such/model' does not exist" in out.stderr
    assert not (tmp_path / "run").exists()


def test_non_utf8_corpus_line_is_named(tmp_path):
    data = write_beir(tmp_path / "data")
    with open(data / "corpus.jsonl", "ab") as f:
        f.write(b'{"_id": "bad", "text": "caf\xe9"}\n')
    out = synthesize("--task", "queries", "--out", str(tmp_path / "run"), f"input.data={data}")
    assert out.returncode == 2 and "corpus.jsonl:8" in out.stderr and "UTF-8" in out.stderr
    assert not (tmp_path / "run").exists()


def test_test_queries_are_refused_by_key(tmp_path):
    out = synthesize(
        "--task", "distill", "--out", str(tmp_path / "run"), f"input.data={tmp_path}", "input.queries=test"
    )
    assert out.returncode == 2 and "input.queries: 'test' is input.test_split, which never feeds" in out.stderr


def test_dataset_without_train_split_points_to_generated_queries(tmp_path):
    data = write_beir(tmp_path / "data", split="test")
    out = synthesize("--task", "graded", "--out", str(tmp_path / "run"), f"input.data={data}", "input.queries=train")
    assert out.returncode == 2 and "generate queries first with task=queries" in out.stderr
