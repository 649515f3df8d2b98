"""The positive-aware false-negative filter (group.negative_max_ratio), before training."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from synthret_ray.training.config import TrainConfig
from synthret_ray.training.negatives import FILTERED_FILE, drop_false_negatives, without_false_negatives
from tests.training.conftest import DOCS, write_rows


def test_a_negative_scored_above_ratio_times_the_positive_is_dropped():
    rows = [
        {"query": "q", "positives": ["p", "cot"], "negatives": ["near", "far", "edge"]},
        {"query": "r", "positive": "p", "negatives": ["far"]},
    ]
    q = np.array([[1.0, 0.0], [0.0, 1.0]])
    # row 1: s(q, p) = 0.8, bar 0.95 * 0.8 = 0.76: near (0.9) goes, edge (0.76) and far (0.1) stay
    # row 2: s(r, p) = 0.6, bar 0.57: far (0.9) goes
    vectors = {"p": np.array([0.8, 0.6]), "near": np.array([0.9, 0.1]), "far": np.array([0.1, 0.9]),
               "edge": np.array([0.76, 0.2]), "cot": np.array([1.0, 0.0])}  # fmt: skip
    kept, dropped = drop_false_negatives(rows, q, vectors, 0.95)
    assert [r["negatives"] for r in kept] == [["far", "edge"], []] and dropped == 2
    assert kept[0]["positives"] == ["p", "cot"] and rows[0]["negatives"] == ["near", "far", "edge"]  # a copy


def test_only_pairs_and_distill_data_take_it():
    with pytest.raises(ValueError, match="group.negative_max_ratio: filters the hard negatives of pairs and distill"):
        TrainConfig(stage="listwise", train_data="x.parquet", group={"negative_max_ratio": 0.95})


@pytest.mark.slow
def test_the_training_file_is_filtered_with_the_starting_model(tmp_path):
    """MiniLM scores a copy of the positive far above 0.5 x the positive itself; an unrelated passage far below."""
    negatives = [DOCS["d1"] + " Indeed.", DOCS["d5"]]
    rows = [{"query": "how is sourdough leavened", "positive": DOCS["d1"], "negatives": negatives}]
    data = write_rows(tmp_path / "pairs.parquet", rows)
    cfg = TrainConfig(
        stage="pairs", train_data=str(data), output_dir=str(tmp_path / "out"), run_name="r",
        group={"negative_max_ratio": 0.5},
    )  # fmt: skip
    filtered, report = without_false_negatives(cfg)
    assert filtered.train_data == str(tmp_path / "out" / "r" / FILTERED_FILE)
    assert pq.read_table(filtered.train_data).to_pylist()[0]["negatives"] == [DOCS["d5"]]
    assert report == json.loads((tmp_path / "out" / "r" / "negatives_filtered.json").read_text())
    assert (report["negatives"], report["dropped"], report["source"]) == (2, 1, str(data))
    assert (
        without_false_negatives(
            cfg.model_copy(update={"group": cfg.group.model_copy(update={"negative_max_ratio": None})})
        )[1]
        is None
    )
