"""Hard-negative mining with faiss: each query's top-ranked documents under a model, positives excluded.

Used for Syntriever's stage-2 candidates (the stage-1 model's top K, which the LLM then compares pairwise)
and for the reranker's LCE negatives. A rank window (e.g. ranks 10-50) skips the very top, where unlabelled
positives are most likely to hide.
"""

from __future__ import annotations

from synthret_ray.data.beir import BeirData
from synthret_ray.evaluation.config import EncodeConfig, IndexConfig
from synthret_ray.evaluation.dense import DenseEncoder, dense_search
from synthret_ray.evaluation.metrics import ranked


def mine_hard_negatives(
    model: str | DenseEncoder,
    corpus: dict[str, dict[str, str]],
    queries: dict[str, str],
    positives: dict[str, set[str]],
    top_k: int = 5,
    rank_start: int = 0,
    encode: EncodeConfig | None = None,
    index: IndexConfig | None = None,
    progress: bool = False,
) -> dict[str, list[str]]:
    """For each query, the documents at ranks ``[rank_start, rank_start + top_k)`` of the model's ranking,
    counted after removing the query's positives (and a document carrying the query's own id)."""
    if top_k <= 0 or rank_start < 0:
        raise ValueError(f"need top_k > 0 and rank_start >= 0, got top_k={top_k}, rank_start={rank_start}")
    encode = encode or EncodeConfig()
    encoder = model if isinstance(model, DenseEncoder) else DenseEncoder(model, encode)
    data = BeirData(corpus, queries, {}, split="mining", path="")
    most_excluded = max((len(p) for p in positives.values()), default=0) + 1
    depth = min(len(corpus), rank_start + top_k + most_excluded)
    run = dense_search(data, encoder, depth, encode, index or IndexConfig(), progress)
    mined = {}
    for qid, docs in run.items():
        skip = positives.get(qid, set()) | {qid}
        kept = [d for d, _ in ranked(docs) if d not in skip]
        mined[qid] = kept[rank_start : rank_start + top_k]
    return mined
