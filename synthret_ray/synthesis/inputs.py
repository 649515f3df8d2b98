"""Units of work for each task, built on the driver: passages (``queries``), queries (``distill``, ``graded``),
queries with retrieved candidates (``label``, ``prefer``) or the rows of a distill run (``verify``).

Queries come from a train-side split of the dataset (never ``test``) or from a run of ``task=queries``.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from synthret_ray.data import fs
from synthret_ray.data.beir import DataFormatError, available_splits, doc_text, read_corpus, read_qrels, read_queries
from synthret_ray.synthesis.config import CandidatesConfig, SynthesisConfig
from synthret_ray.synthesis.task import Task, cut_words


def is_path(source: str) -> bool:
    return fs.is_remote(source) or Path(source).exists()


def queries_folder(source: str) -> str:
    """The BEIR folder of ``input.queries`` given as a path: a queries run folder, a folder, or a queries.jsonl."""
    if fs.exists(fs.join(source, "export", "queries.jsonl")):
        return fs.join(source, "export")
    if source.endswith(".jsonl"):
        if Path(source).name != "queries.jsonl":
            raise DataFormatError(source, None, None, "a queries file must be named queries.jsonl (BEIR layout)")
        return str(Path(source).parent)
    return source


def load_queries(cfg: SynthesisConfig) -> dict[str, str]:
    """``input.queries`` as {query id: text}: a queries run folder, a queries.jsonl, or a split of ``input.data``."""
    source = cfg.input.queries
    assert source is not None
    if is_path(source):
        return read_queries(queries_folder(source))
    splits = available_splits(cfg.input.data)
    if source not in splits:
        raise DataFormatError(
            fs.join(cfg.input.data, "qrels", f"{source}.tsv"),
            None,
            None,
            f"input.queries={source!r} is neither a path nor a split of {cfg.input.data} (splits: {splits}); "
            "without a train split, generate queries first with task=queries and pass that run folder",
        )
    queries = read_queries(cfg.input.data)
    judged = read_qrels(cfg.input.data, source)
    return {qid: queries[qid] for qid in judged if qid in queries}


def load_judged(cfg: SynthesisConfig) -> dict[str, list[str]]:
    """Relevant document ids of each ``input.queries`` query: the qrels beside a queries file or run folder
    (a generated query's source passage), or the split's qrels; {} when there are none."""
    source = cfg.input.queries
    assert source is not None
    if not is_path(source):
        qrels = read_qrels(cfg.input.data, source)
    else:
        folder, qrels = queries_folder(source), {}
        for split in available_splits(folder) if fs.exists(fs.join(folder, "qrels")) else []:
            for qid, rels in read_qrels(folder, split).items():
                qrels.setdefault(qid, {}).update(rels)
    return {qid: [d for d, score in rels.items() if score > 0] for qid, rels in qrels.items()}


def retrieve_candidates(
    data_dir: str, corpus: dict[str, dict[str, str]], queries: dict[str, str], cfg: CandidatesConfig, progress: bool
) -> dict[str, list[str]]:
    """Top ``cfg.k`` document ids per query, retrieved as evaluation retrieves (``evaluation.runner.retrieve``: a
    document carrying the query's own id is skipped; BM25, or the dense encoder with ``cfg.encode`` and
    ``cfg.index``, whose Ray Data pool streams ``data_dir``'s corpus.jsonl for large corpora)."""
    from synthret_ray.data.beir import BeirData
    from synthret_ray.evaluation.config import EvalConfig
    from synthret_ray.evaluation.metrics import ranked
    from synthret_ray.evaluation.runner import retrieve

    options = {"retriever": cfg.retriever, "model": cfg.model, "encode": cfg.encode, "index": cfg.index}
    data = BeirData(corpus, queries, {}, split="synthesis", path=data_dir)
    run = retrieve(EvalConfig(data=data_dir, **options), data, progress)
    return {q: [d for d, _ in ranked(run.get(q, {}))][: cfg.k] for q in queries}


def seeded_sample(items: list, limit: int | None, seed: int) -> list:
    """A seeded random sample of ``limit`` items in their original order (file order says nothing about a
    corpus: the first passages of a file are often one source or one topic); all items without a limit. The first
    ``limit`` of one seeded permutation, so a larger limit keeps every item of a smaller one (a run grown from 1,300
    to 1,400 passages reuses its 1,300); ``random.sample`` changes method with the size and does not."""
    if not limit or limit >= len(items):
        return items
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    chosen = set(order[:limit])
    return [item for i, item in enumerate(items) if i in chosen]


def build_units(cfg: SynthesisConfig, task: Task, progress: bool = False) -> tuple[list[dict[str, Any]], Counter]:
    """The task's units (each with a stable ``id``) and counts of input notes such as ``input_truncated``."""
    notes: Counter = Counter()
    max_words = cfg.input.max_passage_words

    def cut(text: str) -> str:
        text, was_cut = cut_words(text, max_words)
        notes["input_truncated"] += was_cut
        return text

    if cfg.judge_check:
        return judge_check_units(cfg, task, cut, progress), notes
    if cfg.task == "queries":
        corpus = read_corpus(cfg.input.data)
        units = []
        for doc_id in seeded_sample(list(corpus), cfg.input.limit, cfg.input.sample_seed):
            passage = cut(doc_text(corpus[doc_id]))
            for sample in range(cfg.per_passage):
                units.append(
                    {"id": task.unit_id(doc_id, sample), "doc_id": doc_id, "passage": passage, "sample": sample}
                )
        return units, notes
    if cfg.task == "verify":
        from synthret_ray.synthesis.store import RunStore

        rows = RunStore(cfg.input.source_run).kept_rows()
        if not rows:
            raise DataFormatError(cfg.input.source_run, None, None, "the distill run holds no kept rows to verify")
        if rows[0].get("task") != "distill":
            raise DataFormatError(
                cfg.input.source_run, None, "task", f"expected a distill run, got {rows[0].get('task')}"
            )
        keys = ("query_id", "query", "cot_query", "positive", "negatives", "known_positives")
        return [
            {"id": task.unit_id(r["id"]), **{k: r.get(k) for k in keys}}
            for r in seeded_sample(rows, cfg.input.limit, cfg.input.sample_seed)
        ], notes

    queries = load_queries(cfg)
    qids = seeded_sample(list(queries), cfg.input.limit, cfg.input.sample_seed)
    judged = load_judged(cfg) if task.uses_judged else {}
    if cfg.task in ("distill", "graded"):
        corpus = read_corpus(cfg.input.data) if judged else {}
        units = [{"id": task.unit_id(q, queries[q]), "query_id": q, "query": queries[q]} for q in qids]
    else:
        corpus = read_corpus(cfg.input.data)
        asked = {q: queries[q] for q in qids}
        candidates = retrieve_candidates(cfg.input.data, corpus, asked, cfg.candidates, progress)
        units = [
            {
                "id": task.unit_id(q, queries[q], candidates[q]),
                "query_id": q,
                "query": queries[q],
                "doc_ids": candidates[q],
                "documents": [cut(doc_text(corpus[d])) for d in candidates[q]],
            }
            for q in qids
        ]
    if "known_positives" in task.columns:
        for unit in units:
            unit["known_positives"] = [
                cut(doc_text(corpus[d])) for d in judged.get(unit["query_id"], []) if d in corpus
            ]
    return units, notes


def judge_check_units(cfg: SynthesisConfig, task: Task, cut: Callable[[str], str], progress: bool) -> list[dict]:
    """Labelled pairs of ``cfg.judge_check`` (see ``synthesis/judge_check.py``): per sampled query, a passage judged
    relevant, BM25's top passage not judged for the query, and a random passage not judged for it."""
    from synthret_ray.synthesis.judge_check import KINDS

    check = cfg.judge_check
    assert check is not None
    corpus, queries = read_corpus(check.data), read_queries(check.data)
    qrels = read_qrels(check.data, check.split)
    relevant = {
        q: sorted((d for d, score in rels.items() if score > 0 and d in corpus), key=lambda d: (-rels[d], d))
        for q, rels in qrels.items()
        if q in queries
    }
    labelled = sorted(q for q, docs in relevant.items() if docs)
    if not labelled:
        raise DataFormatError(
            fs.join(check.data, "qrels", f"{check.split}.tsv"),
            None,
            None,
            "no query with a relevant passage in the corpus",
        )
    qids = seeded_sample(labelled, check.queries, check.seed)
    asked = {q: queries[q] for q in qids}
    ranked = retrieve_candidates(check.data, corpus, asked, CandidatesConfig(retriever="bm25", k=10), progress)
    doc_ids = sorted(corpus)
    units = []
    for q in qids:
        judged = set(qrels[q])  # judged not relevant (score 0) is not a "passage not judged" either
        top = next((d for d in ranked[q] if d not in judged), None)
        rng = random.Random(f"{check.seed}:{q}")  # per query: a larger sample keeps the pairs of a smaller one
        others = [d for d in rng.sample(doc_ids, min(len(doc_ids), len(judged) + 5)) if d not in judged]
        for kind, doc_id in zip(KINDS, (relevant[q][0], top, others[0] if others else None), strict=True):
            if doc_id is not None:
                units.append(
                    {
                        "id": task.unit_id(q, queries[q], doc_id),
                        "query_id": q,
                        "query": queries[q],
                        "doc_id": doc_id,
                        "passage": cut(doc_text(corpus[doc_id])),
                        "kind": kind,
                    }
                )
    return units
