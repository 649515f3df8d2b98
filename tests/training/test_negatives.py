"""Hard negatives prepared before training: the positive-aware filter (group.negative_max_ratio) and mining from
the corpus (group.mined_negatives)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from synthret_ray.training.config import TrainConfig
from synthret_ray.training.negatives import (
    NEGATIVES_FILE,
    NEGATIVES_REPORT,
    add_mined_negatives,
    drop_false_negatives,
    prepare_negatives,
)
from tests.conftest import TINY_CORPUS, write_beir
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
    filtered, report = prepare_negatives(cfg)
    assert filtered.train_data == str(tmp_path / "out" / "r" / NEGATIVES_FILE)
    assert pq.read_table(filtered.train_data).to_pylist()[0]["negatives"] == [DOCS["d5"]]
    assert report == json.loads((tmp_path / "out" / "r" / NEGATIVES_REPORT).read_text())
    assert (report["written_negatives"], report["dropped"], report["source"]) == (2, 1, str(data))
    assert (
        prepare_negatives(cfg.model_copy(update={"group": cfg.group.model_copy(update={"negative_max_ratio": None})}))[
            1
        ]
        is None
    )


def test_mined_negatives_skip_positives_of_the_query_written_negatives_and_near_positives():
    rows = [
        {"query": "q", "positives": ["p cut", "cot"], "negatives": ["w"]},
        {"query": "r", "positive": "x", "negatives": []},
        {"query": "q", "positive": "other pos", "negatives": []},
    ]
    ranked = [
        # the full text of a cut positive; above 0.95 * 0.8; another row's positive of q; written already
        [("p cut and more words", 0.9), ("near", 0.79), ("other pos", 0.6), ("w", 0.5), ("p cutter", 0.4), ("b", 0.3)],
        [("x", 0.5), ("c", 0.2)],
        [("p  cut", 0.6), ("d", 0.1)],
    ]
    mined, added = add_mined_negatives(rows, [0.8, 0.5, 0.7], ranked, count=2, ratio=0.95)
    assert [r["negatives"] for r in mined] == [["p cutter", "b", "w"], ["c"], ["d"]] and added == 4
    assert rows[0]["negatives"] == ["w"]  # a copy


def test_mining_needs_a_corpus_and_pairs_or_distill_data():
    with pytest.raises(ValueError, match="group.mine_corpus: a BEIR folder"):
        TrainConfig(stage="pairs", train_data="x.parquet", group={"mined_negatives": 2})
    with pytest.raises(ValueError, match="group.mined_negatives: mines hard negatives for pairs and distill"):
        TrainConfig(stage="align", train_data="x.parquet", group={"mined_negatives": 2, "mine_corpus": "c"})


@pytest.mark.slow
def test_negatives_are_mined_from_the_corpus_with_the_starting_model(tmp_path):
    """The query's own passage and a near copy of it (above 0.95 of the positive's score) are never mined."""
    near_copy = ("Sourdough", TINY_CORPUS["d1"][1].replace("bacteria.", "bacteria, slowly."))
    corpus = write_beir(tmp_path / "corpus", corpus={**TINY_CORPUS, "d7": near_copy})
    rows = [{"query": "how is sourdough leavened", "positive": DOCS["d1"], "negatives": []}]
    cfg = TrainConfig(
        stage="pairs", train_data=str(write_rows(tmp_path / "pairs.parquet", rows)), output_dir=str(tmp_path / "out"),
        run_name="r", group={"mined_negatives": 2, "mine_corpus": str(corpus)},
    )  # fmt: skip
    mined, report = prepare_negatives(cfg)
    negatives = pq.read_table(mined.train_data).to_pylist()[0]["negatives"]
    others = {DOCS[d] for d in ("d2", "d3", "d4", "d5", "d6")} | {" ".join(TINY_CORPUS["q3"])}
    assert len(negatives) == 2 and set(negatives) <= others
    assert (report["mined"], report["corpus_size"], report["mining_ratio"]) == (2, 8, 0.95)
    assert report == json.loads((tmp_path / "out" / "r" / NEGATIVES_REPORT).read_text())
