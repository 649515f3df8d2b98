"""BM25 first stage with bm25s (sparse scipy matrices; Lucene scoring by default)."""

from __future__ import annotations

from dataclasses import replace

import bm25s

from synthret_ray.data.beir import BeirData, doc_text
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


def candidate_pool(data: BeirData, depth: int, cfg: BM25Config | None = None) -> BeirData:
    """``data`` with its corpus cut to each query's judged documents and BM25 top ``depth``.

    Dense evaluation of a model in training then encodes a few hundred documents per checkpoint instead of the
    whole corpus, while the lexical hard negatives that decide nDCG@10 stay in (NanoBEIR builds its subsets the
    same way). Scores on the pool are for comparing checkpoints, not for reporting against full-corpus numbers.
    """
    run = bm25_search(data.corpus, data.queries, depth, cfg or BM25Config(), progress=False)
    keep = {d for docs in run.values() for d in docs} | {d for rels in data.qrels.values() for d in rels}
    return replace(data, corpus={d: doc for d, doc in data.corpus.items() if d in keep})
