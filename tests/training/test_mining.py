from __future__ import annotations

import pytest

from synthret_ray.data import load_beir
from synthret_ray.evaluation import EvalConfig
from synthret_ray.evaluation.config import EncodeConfig
from synthret_ray.evaluation.dense import DenseEncoder
from synthret_ray.evaluation.metrics import ranked
from synthret_ray.evaluation.runner import retrieve
from synthret_ray.training.mining import mine_hard_negatives


@pytest.mark.slow
def test_mining_excludes_positives_and_respects_the_rank_window(tiny_beir):
    data = load_beir(str(tiny_beir))
    positives = {q: set(rels) for q, rels in data.qrels.items()}
    encoder = DenseEncoder("minilm", EncodeConfig())
    top = mine_hard_negatives(encoder, data.corpus, data.queries, positives, top_k=2)
    window = mine_hard_negatives(encoder, data.corpus, data.queries, positives, top_k=2, rank_start=1)
    full = retrieve(
        EvalConfig(data=str(tiny_beir), retriever="dense", model="minilm"), data, progress=False, encoder=encoder
    )
    for qid in data.queries:
        order = [d for d, _ in ranked(full[qid]) if d not in positives[qid]]
        assert top[qid] == order[:2]
        assert window[qid] == order[1:3]
        assert not set(top[qid]) & positives[qid] and qid not in top[qid]


def test_mining_rejects_bad_window():
    with pytest.raises(ValueError, match="need top_k > 0"):
        mine_hard_negatives("minilm", {}, {}, {}, top_k=0)
