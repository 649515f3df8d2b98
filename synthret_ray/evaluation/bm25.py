"""BM25 first stage with bm25s (sparse scipy matrices; Lucene scoring by default)."""

from __future__ import annotations

import bm25s

from synthret_ray.data.beir import doc_text
from synthret_ray.evaluation.config import BM25Config
from synthret_ray.evaluation.metrics import Run


def _stemmer(language: str | None):
    if language is None:
        return None
    import Stemmer

    return Stemmer.Stemmer(language)


def bm25_search(
    corpus: dict[str, dict[str, str]], queries: dict[str, str], top_k: int, cfg: BM25Config, progress: bool = True
) -> Run:
    """Top ``top_k`` documents per query by BM25 over title + text."""
    doc_ids = list(corpus)
    stemmer = _stemmer(cfg.stemmer)
    corpus_tokens = bm25s.tokenize(
        [doc_text(corpus[d]) for d in doc_ids], stopwords=cfg.stopwords, stemmer=stemmer, show_progress=progress
    )
    retriever = bm25s.BM25(k1=cfg.k1, b=cfg.b, method=cfg.method)
    retriever.index(corpus_tokens, show_progress=progress)
    qids = list(queries)
    query_tokens = bm25s.tokenize(
        [queries[q] for q in qids], stopwords=cfg.stopwords, stemmer=stemmer, show_progress=progress
    )
    k = min(top_k, len(doc_ids))
    indices, scores = retriever.retrieve(query_tokens, k=k, show_progress=progress)
    return {
        qid: {doc_ids[i]: float(s) for i, s in zip(indices[row], scores[row], strict=True) if s > 0}
        for row, qid in enumerate(qids)
    }
