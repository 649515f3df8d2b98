from __future__ import annotations

import math

import pytest

from synthret_ray.evaluation.metrics import drop_identical_ids, evaluate_run, ranked


def test_values_computed_by_hand():
    qrels = {"q1": {"d1": 1, "d3": 1}}
    run = {"q1": {"d0": 3.0, "d2": 2.5, "d1": 2.0, "d3": 1.0}}
    mean, per_query = evaluate_run(qrels, run)
    dcg = 1 / math.log2(4) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert mean["ndcg_at_10"] == pytest.approx(dcg / idcg)
    assert mean["mrr_at_10"] == pytest.approx(1 / 3)
    assert mean["recall_at_100"] == pytest.approx(1.0)
    assert mean["map_at_100"] == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert per_query["q1"] == mean


def test_graded_gain_is_linear_as_in_trec_eval():
    mean, _ = evaluate_run({"q": {"a": 2, "b": 1}}, {"q": {"b": 2.0, "a": 1.0}})
    assert mean["ndcg_at_10"] == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))


def test_mrr_is_cut_at_10_and_recall_at_100():
    run = {"q": {f"n{i:03d}": 200.0 - i for i in range(150)}}
    run["q"]["rel"] = 200.0 - 10.5  # rank 11
    mean, _ = evaluate_run({"q": {"rel": 1}}, run)
    assert mean["mrr_at_10"] == 0.0  # trec_eval's plain recip_rank would give 1/11
    assert mean["ndcg_at_10"] == 0.0
    assert mean["recall_at_100"] == 1.0
    run["q"]["rel"] = 200.0 - 120.5  # rank 121
    mean, _ = evaluate_run({"q": {"rel": 1}}, run)
    assert mean["recall_at_100"] == 0.0


def test_unretrieved_query_counts_as_zero():
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}}
    mean, per_query = evaluate_run(qrels, {"q1": {"d1": 1.0}})
    assert per_query["q2"]["ndcg_at_10"] == 0.0
    assert mean["ndcg_at_10"] == pytest.approx(0.5)
    assert mean["mrr_at_10"] == pytest.approx(0.5)


def test_ties_follow_trec_eval_order():
    assert [d for d, _ in ranked({"a": 1.0, "c": 1.0, "b": 2.0})] == ["b", "c", "a"]
    # trec_eval breaks the tie by document id descending: "c" first, so the relevant "a" is at rank 3.
    mean, _ = evaluate_run({"q": {"a": 1}}, {"q": {"a": 1.0, "c": 1.0, "b": 2.0}})
    assert mean["mrr_at_10"] == pytest.approx(1 / 3)


def test_identical_ids_are_dropped():
    assert drop_identical_ids({"q1": {"q1": 9.0, "d1": 1.0}}) == {"q1": {"d1": 1.0}}
