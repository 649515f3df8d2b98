"""Equal documents in one batch: another row's copy of a row's positive is left out of that row's loss, in every
in-batch loss (it was a negative: two equal positives put a floor of log 2 under InfoNCE)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from synthret_ray.training.config import TrainConfig
from synthret_ray.training.loop import build_loss
from synthret_ray.training.steps import batch_loss, collate

VECTORS = {"qa": [1.0, 0.0], "qb": [0.0, 1.0], "p": [1.0, 1.0], "n": [-1.0, 0.0], "s": [1.0, -1.0]}


class FixedEncoder(nn.Module):
    def forward(self, texts: list[str], kind: str = "document") -> torch.Tensor:
        return torch.tensor([VECTORS[t] for t in texts])


def loss(stage: str, name: str, rows: list[dict]) -> float:
    group = {"listwise_size": 2}  # the lists' own length: no padding
    cfg = TrainConfig(stage=stage, train_data="-", loss={"name": name, "temperature": 1.0}, group=group)
    return batch_loss(cfg, FixedEncoder(), build_loss(cfg), collate(cfg, rows), None).item()


def test_infonce_leaves_out_another_rows_copy_of_the_positive():
    """Pins the mask for `pairs`: rows of one positive (two queries of one passage) or of one query (a row per
    relevant document)."""
    shared = [{"query": "qa", "positive": "p", "negatives": []}, {"query": "qb", "positive": "p", "negatives": []}]
    assert loss("pairs", "infonce", shared) == pytest.approx(0.0)  # each row sees only its own p (was log 2)
    same_query = [{"query": "qa", "positive": "p", "negatives": []}, {"query": "qa", "positive": "s", "negatives": []}]
    assert loss("pairs", "infonce", same_query) == pytest.approx(0.0)  # the other relevant document is hidden
    different = [{"query": "qa", "positive": "p", "negatives": []}, {"query": "qb", "positive": "s", "negatives": []}]
    assert loss("pairs", "infonce", different) > 0.1  # unrelated rows still compete


def test_distill_hides_copies_of_a_positive_but_keeps_hard_negatives():
    rows = [
        {"query": "qa", "positives": ["p"], "negatives": ["n"]},
        {"query": "qb", "positives": ["p", "s"], "negatives": ["n"]},
    ]
    # row qa: its p against the negatives n (twice, one per row) and qb's s; qb's copy of p is hidden
    # s(qa, .) with cosine and tau 1: p = 1/sqrt(2), n = -1, s = 1/sqrt(2)
    c = 1 / math.sqrt(2)
    expected_a = math.log(math.exp(c) + 2 * math.exp(-1) + math.exp(c)) - c
    # row qb: positives p and s (cos 1/sqrt(2) and -1/sqrt(2)), negatives n twice (cos 0); qa's copy of p hidden
    expected_b = math.log(math.exp(c) + math.exp(-c) + 2) - math.log(math.exp(c) + math.exp(-c))
    assert loss("distill", "syntriever_distill", rows) == pytest.approx((expected_a + expected_b) / 2, rel=1e-5)


def test_listwise_and_preference_losses_hide_copies_too():
    lists = [
        {"query": "qa", "documents": ["p", "n"], "labels": [1, 0]},
        {"query": "qb", "documents": ["p", "s"], "labels": [1, 0]},
    ]
    c = 1 / math.sqrt(2)

    def listnet_row(scores: list[float], labels: list[float]) -> float:
        target, logp = torch.softmax(torch.tensor(labels), 0), torch.log_softmax(torch.tensor(scores), 0)
        return -(target * logp).sum().item()

    # qa over [p, n, (qb's p hidden), s]: scores c, -1, c; labels 1, 0, 0
    # qb over [(qa's p hidden), n, p, s]: scores 0, c, -c; labels 0, 1, 0
    expected = (listnet_row([c, -1.0, c], [1.0, 0.0, 0.0]) + listnet_row([0.0, c, -c], [0.0, 1.0, 0.0])) / 2
    assert loss("listwise", "listnet", lists) == pytest.approx(expected, rel=1e-5)
    # Wasserstein compares the same two row distributions: a hidden column carries no mass in either
    from synthret_ray.training.losses.wasserstein import frechet_distance

    p_rows = torch.tensor([[c, -1.0, -math.inf, c], [-math.inf, 0.0, c, -c]]).softmax(1)
    q_rows = torch.tensor([[1.0, 0.0, -math.inf, 0.0], [-math.inf, 0.0, 1.0, 0.0]]).softmax(1)
    assert loss("listwise", "wasserstein", lists) == pytest.approx(frechet_distance(p_rows, q_rows).item(), rel=1e-5)
    pairs = [
        {"query_id": "a", "query": "qa", "preferred": "p", "rejected": "n"},
        {"query_id": "b", "query": "qb", "preferred": "s", "rejected": "p"},
    ]
    cfg = TrainConfig(stage="align", train_data="-", loss={"temperature": 1.0})
    ppl = build_loss(cfg)
    value = batch_loss(cfg, FixedEncoder(), ppl, collate(cfg, pairs), None).item()
    # row qa over [p, s, n, p]: the last p (qb's rejected copy of qa's preferred) is hidden
    scores_a = torch.tensor([1 / math.sqrt(2), 1 / math.sqrt(2), -1.0])
    first_a = torch.logsumexp(scores_a, 0) - scores_a[0]
    second_a = torch.logsumexp(scores_a[1:], 0) - scores_a[2]
    # row qb over [p, s, n, p]: qa's preferred p (a copy of qb's rejected) is hidden
    scores_b = torch.tensor([-1 / math.sqrt(2), 0.0, 1 / math.sqrt(2)])  # s, n, p
    first_b = torch.logsumexp(scores_b, 0) - scores_b[0]
    second_b = torch.logsumexp(scores_b[1:], 0) - scores_b[2]
    assert value == pytest.approx(((first_a + second_a + first_b + second_b) / 2).item(), rel=1e-5)


def test_padding_slots_are_masked_not_repeated():
    """Pins masked padding: a list of 2 padded to 4, or 2 negatives padded to 4, gives the loss of the unpadded
    group (repeating members changed the target distribution and counted a negative twice)."""
    lists = [
        {"query": "qa", "documents": ["p", "n"], "labels": [1, 0]},
        {"query": "qb", "documents": ["s", "n"], "labels": [1, 0]},
    ]
    for name in ("listnet", "wasserstein", "wasserstein_paired"):
        values = []
        for size in (2, 4):
            cfg = TrainConfig(
                stage="listwise",
                train_data="-",
                loss={"name": name, "temperature": 1.0},
                group={"listwise_size": size},
            )
            values.append(batch_loss(cfg, FixedEncoder(), build_loss(cfg), collate(cfg, lists), None).item())
        assert values[0] == pytest.approx(values[1], rel=1e-6), name

    class PairScorer(nn.Module):
        def forward(self, pairs: list[tuple[str, str]]) -> torch.Tensor:
            return torch.tensor([float(sum(VECTORS[q][i] * VECTORS[d][i] for i in range(2))) for q, d in pairs])

    rows = [{"query": "qa", "positive": "p", "negatives": ["n", "s"]}]
    values = []
    for n in (2, 4):
        cfg = TrainConfig(stage="reranker", train_data="-", group={"reranker_negatives": n})
        values.append(batch_loss(cfg, PairScorer(), build_loss(cfg), collate(cfg, rows), None).item())
    assert values[0] == pytest.approx(values[1])
