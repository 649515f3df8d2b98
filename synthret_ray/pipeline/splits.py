"""The ``split`` stage: which queries feed synthesis and training, and which select checkpoints (dev).

Training queries are the generated ones (with their source passage as the relevant document) or a train-side
split of the dataset. Dev queries are a split of the dataset, or a stable hash-based share of the training
queries held out into a BEIR folder of their own, by source passage: the queries of one passage (for a dataset
split, those whose first relevant document is the same) land on the same side, so dev never scores a passage
the student was trained on. Queries judged in the test split never land in either: they are dropped and
counted, so the test score stays honest even if a dataset's splits overlap.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from synthret_ray.data import fs
from synthret_ray.data.beir import (
    DataFormatError,
    available_splits,
    encode_jsonl,
    encode_qrels,
    read_qrels,
    read_queries,
)
from synthret_ray.pipeline.config import RecipeConfig
from synthret_ray.synthesis.inputs import is_path, queries_folder, seeded_sample


def _bucket(key: str) -> float:
    """A stable number in [0, 1) per key: the same keys go to dev on every run and machine."""
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) / 2**32


def _passage_of(query_id: str, qrels: dict[str, dict[str, int]]) -> str:
    """The group a query is held out with: its (first) relevant passage, or itself when it has none."""
    relevant = sorted(d for d, score in qrels.get(query_id, {}).items() if score > 0)
    return f"doc:{relevant[0]}" if relevant else f"query:{query_id}"


def _write_beir_queries(folder: str, queries: dict[str, str], qrels: dict[str, dict[str, int]], split: str) -> None:
    fs.write_bytes(fs.join(folder, "queries.jsonl"), encode_jsonl({"_id": q, "text": t} for q, t in queries.items()))
    judgments = ((q, d, score) for q in queries for d, score in qrels.get(q, {}).items())
    fs.write_bytes(fs.join(folder, "qrels", f"{split}.tsv"), encode_qrels(judgments))


def _link_corpus(data: str, folder: str) -> None:
    """The dev folder shares the dataset's corpus: a symlink locally, a copy on remote storage."""
    source, target = fs.join(data, "corpus.jsonl"), fs.join(folder, "corpus.jsonl")
    if fs.is_remote(target) or fs.is_remote(source):
        import pyarrow.fs as pafs

        (src_fs, src), (dst_fs, dst) = fs.resolve(source), fs.resolve(target)
        pafs.copy_files(src, dst, source_filesystem=src_fs, destination_filesystem=dst_fs)
        return
    if os.path.lexists(target):
        os.remove(target)
    os.symlink(os.path.abspath(source), target)


def split_queries(cfg: RecipeConfig, queries_run: str, out: str) -> dict[str, Any]:
    splits = available_splits(cfg.data)
    test = read_qrels(cfg.data, cfg.test_split) if cfg.test_split in splits else {}
    folder = None  # where the training queries come from, when not a split of the dataset
    if cfg.train_queries == "generate" or is_path(cfg.train_queries):
        folder = queries_folder(queries_run if cfg.train_queries == "generate" else cfg.train_queries)
        queries, qrels = read_queries(folder), read_qrels(folder, "train")
    else:
        if cfg.train_queries not in splits:
            raise DataFormatError(
                cfg.data,
                None,
                "train_queries",
                f"neither a split of the dataset (no qrels/{cfg.train_queries}.tsv; splits: {splits}) nor an "
                "existing queries folder (use train_queries=generate for a corpus without training queries)",
            )
        qrels = read_qrels(cfg.data, cfg.train_queries)
        every = read_queries(cfg.data)
        queries = {q: every[q] for q in qrels if q in every}
    leaked = sorted(q for q in queries if q in test)
    for q in leaked:
        queries.pop(q)
    ids = sorted(queries)

    if cfg.dev_split is None:
        group = {q: _passage_of(q, qrels) for q in ids}
        dev_ids = [q for q in ids if _bucket(group[q]) < cfg.dev_fraction]
        if not dev_ids and len(set(group.values())) > 1:  # tiny runs: still keep one passage's queries apart
            first = min(group.values(), key=_bucket)
            dev_ids = [q for q in ids if group[q] == first]
        train_ids = [q for q in ids if q not in set(dev_ids)]
        dev_folder = fs.join(out, "dev")
        _write_beir_queries(dev_folder, {q: queries[q] for q in dev_ids}, qrels, "dev")
        _link_corpus(cfg.data, dev_folder)
        dev_count = len(dev_ids)
    else:
        if cfg.dev_split not in splits:
            raise DataFormatError(
                cfg.data,
                None,
                "dev_split",
                f"no qrels/{cfg.dev_split}.tsv; splits: {splits} "
                "(null holds out part of the training queries instead)",
            )
        dev = read_qrels(cfg.data, cfg.dev_split)
        train_ids = [q for q in ids if q not in dev]
        dev_count = len(dev)
    train_ids = seeded_sample(train_ids, cfg.max_queries, 0)  # not the first ids in sort order
    if not train_ids:
        raise DataFormatError(
            folder or cfg.data,
            None,
            "queries",
            "no training queries left after holding out dev queries",
        )
    _write_beir_queries(fs.join(out, "train"), {q: queries[q] for q in train_ids}, qrels, "train")
    return {"train_queries": len(train_ids), "dev_queries": dev_count, "dropped_test_queries": len(leaked)}
