"""Hard negatives prepared before training: the positive-aware false-negative filter on the teacher's written
negatives (``group.negative_max_ratio``) and negatives mined from the corpus (``group.mined_negatives``).

Both follow NV-Retriever's TopK-PercPos (Moreira et al., NV-Retriever: Improving text embedding models with
effective hard-negative mining, 2024, arXiv:2407.15831): under the model training starts from, a negative scored
above ``ratio`` times the query's first positive is taken for an unlabelled positive and dropped (0.95 there).
Why here: a small teacher asked for "plausibly irrelevant" passages writes on-topic ones (Qwen2.5-Coder-0.5B on
Cranfield: mean cosine 0.845 to the query under MiniLM, against 0.843 for its positive and 0.728 for the query's
source passage), and a loss that pushes them away from the query pulls the space apart (benchmarks/RESULTS.md,
stage-1 ablation). Mined negatives are real corpus passages the starting model ranks high for the query: the
top ``group.mine_depth`` by faiss, less the query's own positives and those above the ratio, the best
``group.mined_negatives`` of what is left.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from synthret_ray.data import fs
from synthret_ray.training.config import TrainConfig

NEGATIVES_FILE = "train_data.negatives.parquet"
NEGATIVES_REPORT = "negatives.json"
MINING_RATIO = 0.95  # NV-Retriever's; mined negatives are always filtered, written ones only when asked


def first_positive(row: dict[str, Any]) -> str:
    return row["positive"] if "positive" in row else row["positives"][0]


def row_positives(row: dict[str, Any]) -> list[str]:
    return [row["positive"]] if "positive" in row else list(row["positives"])


def _words(text: str) -> str:
    return " ".join(text.split())


def drop_false_negatives(
    rows: list[dict[str, Any]], query_vectors: np.ndarray, doc_vector: dict[str, np.ndarray], ratio: float
) -> tuple[list[dict[str, Any]], int]:
    """``rows`` with each negative whose score s(q, n) exceeds ``ratio`` * s(q, first positive) left out; the
    scores are inner products of the given (normalized) vectors. Returns the rows and how many were dropped."""
    out, dropped = [], 0
    for row, q in zip(rows, query_vectors, strict=True):
        bar = ratio * float(q @ doc_vector[first_positive(row)])
        kept = [n for n in row.get("negatives") or [] if float(q @ doc_vector[n]) <= bar]
        dropped += len(row.get("negatives") or []) - len(kept)
        out.append({**row, "negatives": kept})
    return out, dropped


def add_mined_negatives(
    rows: list[dict[str, Any]],
    positive_scores: list[float],
    ranked: list[list[tuple[str, float]]],
    count: int,
    ratio: float,
) -> tuple[list[dict[str, Any]], int]:
    """Each row with up to ``count`` corpus passages put before its negatives: from ``ranked[i]`` (the row's top
    corpus texts with their scores, best first), the first ones that are not a positive of any row of the same
    query (a passage cut to the teacher's word limit counts as its full text), not already a negative of the row,
    and scored at most ``ratio`` * ``positive_scores[i]`` (the row's first positive). Returns the rows and how
    many passages were added."""
    positives_of: dict[str, set[str]] = {}
    for row in rows:
        positives_of.setdefault(row["query"], set()).update(_words(p) for p in row_positives(row))
    out, added = [], 0
    for row, positive_score, candidates in zip(rows, positive_scores, ranked, strict=True):
        known = positives_of[row["query"]]
        written = set(row.get("negatives") or [])
        mined: list[str] = []
        for text, score in candidates:
            if len(mined) == count:
                break
            words = _words(text)
            is_positive = any(words == p or words.startswith(p + " ") for p in known)
            if is_positive or text in written or score > ratio * positive_score:
                continue
            mined.append(text)
        added += len(mined)
        out.append({**row, "negatives": mined + [n for n in row.get("negatives") or [] if n not in mined]})
    return out, added


def _mine(
    cfg: TrainConfig, encoder: Any, query_vectors: np.ndarray, depth: int
) -> tuple[list[list[tuple[str, float]]], int]:
    """The top ``depth`` passages of ``group.mine_corpus`` for each query, by the encoder (faiss, exact), and the
    corpus size."""
    from synthret_ray.data.beir import doc_text, read_corpus
    from synthret_ray.evaluation.config import IndexConfig
    from synthret_ray.evaluation.dense import corpus_embeddings
    from synthret_ray.evaluation.index import IndexBuilder, search

    assert cfg.group.mine_corpus is not None
    corpus = read_corpus(cfg.group.mine_corpus)
    ids = list(corpus)
    texts = [doc_text(corpus[d]) for d in ids]
    builder = IndexBuilder(encoder.dim, len(ids), IndexConfig(device="cpu"))
    builder.add(ids, corpus_embeddings(encoder, ids, texts, encoder.cfg))  # cached per weights and corpus
    scores, positions = search(builder.finish(), ids, query_vectors, depth)
    ranked = [
        [(texts[p], float(s)) for p, s in zip(row_positions, row_scores, strict=True) if p >= 0]
        for row_positions, row_scores in zip(positions, scores, strict=True)
    ]
    return ranked, len(ids)


def prepare_negatives(cfg: TrainConfig) -> tuple[TrainConfig, dict[str, Any] | None]:
    """``cfg`` pointing at a copy of its training file with the written negatives filtered
    (``group.negative_max_ratio``) and corpus negatives added (``group.mined_negatives``), written beside the
    run's checkpoints, and a report of both; ``cfg`` itself when neither is asked for."""
    group = cfg.group
    if group.negative_max_ratio is None and not group.mined_negatives:
        return cfg, None
    from synthret_ray.evaluation.config import EncodeConfig
    from synthret_ray.evaluation.dense import DenseEncoder
    from synthret_ray.synthesis.export import encode_rows
    from synthret_ray.training.data import load_training_rows

    rows = load_training_rows(cfg.train_data, cfg.stage, cfg.skip_invalid_rows).rows
    encode = EncodeConfig(
        batch_size=cfg.eval.batch_size,
        max_seq_length=cfg.optim.max_seq_length,
        query_prefix=cfg.query_prefix or "",
        document_prefix=cfg.document_prefix or "",
    )
    encoder = DenseEncoder(cfg.model, encode)  # the model training starts from
    written = {n for r in rows for n in r.get("negatives") or []} if group.negative_max_ratio is not None else set()
    docs = sorted({first_positive(r) for r in rows} | written)  # mining alone scores only the first positives
    query_vectors = encoder.encode([r["query"] for r in rows], encoder.query_prefix)
    doc_vector = dict(zip(docs, encoder.encode(docs, encoder.document_prefix), strict=True))
    report: dict[str, Any] = {
        "source": cfg.train_data,
        "model": cfg.model,
        "written_negatives": sum(len(r.get("negatives") or []) for r in rows),
    }
    if group.negative_max_ratio is not None:
        rows, dropped = drop_false_negatives(rows, query_vectors, doc_vector, group.negative_max_ratio)
        report.update(ratio=group.negative_max_ratio, dropped=dropped)
        print(f"[synthret] group.negative_max_ratio={group.negative_max_ratio}: dropped {dropped} of "
              f"{report['written_negatives']} written hard negatives")  # fmt: skip
    if group.mined_negatives:
        ratio = group.negative_max_ratio or MINING_RATIO
        ranked, size = _mine(cfg, encoder, query_vectors, group.mine_depth)
        positive_scores = [float(q @ doc_vector[first_positive(r)]) for r, q in zip(rows, query_vectors, strict=True)]
        rows, added = add_mined_negatives(rows, positive_scores, ranked, group.mined_negatives, ratio)
        report.update(corpus=group.mine_corpus, corpus_size=size, depth=group.mine_depth, mining_ratio=ratio,
                      mined=added)  # fmt: skip
        print(f"[synthret] group.mined_negatives={group.mined_negatives}: mined {added} hard negatives for "
              f"{len(rows)} queries from {size} passages of {group.mine_corpus}")  # fmt: skip
    folder = fs.join(cfg.output_dir, cfg.run_name)
    path = fs.join(folder, NEGATIVES_FILE)
    fs.write_bytes(path, encode_rows(NEGATIVES_FILE, rows))  # whole, through a temporary name
    fs.write_bytes(fs.join(folder, NEGATIVES_REPORT), json.dumps(report, indent=1).encode())
    return cfg.model_copy(update={"train_data": path}), report
