"""Interpolation of a cross-encoder with its first stage, against values computed by hand."""

from __future__ import annotations

import math

import pytest

from synthret_ray.evaluation.fusion import FUSION_GRID, best_weight, fuse, fusion_table
from synthret_ray.evaluation.metrics import ranked

# BM25 puts a first; the cross-encoder puts b first; c is below the reranked head.
FIRST = {"q": {"a": 3.0, "b": 1.0, "c": 0.5}}
HEADS = {"q": {"a": 0.0, "b": 2.0}}


def test_fuse_mixes_per_query_normalized_scores():
    # normalized over the head: cross-encoder a=0, b=1; BM25 a=1, b=0
    low = fuse(FIRST, HEADS, 0.25)["q"]
    assert low["a"] == pytest.approx(0.25 * 0 + 0.75 * 1) and low["b"] == pytest.approx(0.25 * 1 + 0.75 * 0)
    assert [d for d, _ in ranked(low)] == ["a", "b", "c"]
    high = fuse(FIRST, HEADS, 0.75)["q"]
    assert high["a"] == pytest.approx(0.25) and high["b"] == pytest.approx(0.75)
    assert [d for d, _ in ranked(high)] == ["b", "a", "c"]
    assert fuse(FIRST, HEADS, 1.0)["q"] == {"a": 0.0, "b": 2.0, "c": -1.0}  # raw cross-encoder, tail below it
    # weight 0 ranks like the first stage (rerank() then skips the cross-encoder)
    assert [d for d, _ in ranked(fuse(FIRST, HEADS, 0.0)["q"])] == [d for d, _ in ranked(FIRST["q"])]


def test_fuse_handles_equal_scores_and_queries_without_a_head():
    flat = fuse({"q": {"a": 2.0, "b": 1.0}, "r": {"x": 1.0}}, {"q": {"a": 5.0, "b": 5.0}}, 0.5)
    assert flat["q"] == {"a": pytest.approx(0.5), "b": pytest.approx(0.0)}  # a flat cross-encoder adds nothing
    assert flat["r"] == {"x": -1.0}  # no head: the first stage's order


def test_fusion_table_and_best_weight_take_the_best_dev_weight_and_the_smaller_on_ties():
    qrels = {"q": {"b": 1}}
    table = fusion_table(qrels, FIRST, HEADS, grid=(1.0, 0.0, 0.25, 0.75))
    weight = best_weight(table)
    second = 1 / math.log2(3)  # b at rank 2
    assert table == pytest.approx({0.0: second, 0.25: second, 0.75: 1.0, 1.0: 1.0})
    assert list(table) == [0.0, 0.25, 0.75, 1.0]
    assert weight == 0.75
    weight = best_weight(fusion_table({"q": {"a": 1}}, FIRST, HEADS))
    assert weight == 0.0 and FUSION_GRID[0] == 0.0 and FUSION_GRID[-1] == 1.0 and len(FUSION_GRID) == 11
