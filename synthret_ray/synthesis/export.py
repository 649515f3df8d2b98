"""Training files from a run folder's kept rows, written under ``export/`` (replaced whole on each call).

Files ending in ``.parquet`` are parquet, ``.jsonl`` JSON lines, ``.tsv`` BEIR qrels with a header.
For ``queries`` the optional round-trip filter runs here: a query is kept only if the configured retriever
ranks its source passage in its top k over the whole corpus.
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from synthret_ray.data import fs
from synthret_ray.data.beir import encode_jsonl, encode_qrels
from synthret_ray.synthesis.config import SynthesisConfig
from synthret_ray.synthesis.store import RunStore
from synthret_ray.synthesis.task import Task


def round_trip(cfg: SynthesisConfig, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows whose generated query ranks its source passage in the round-trip retriever's top k."""
    from synthret_ray.data.beir import read_corpus
    from synthret_ray.synthesis.inputs import retrieve_candidates

    assert cfg.filters.round_trip is not None
    corpus = read_corpus(cfg.input.data)
    queries = {row["id"]: row["query"] for row in rows}
    top = retrieve_candidates(cfg.input.data, corpus, queries, cfg.filters.round_trip, progress=cfg.progress)
    return [row for row in rows if row["doc_id"] in top[row["id"]]]


def encode_rows(name: str, rows: list[dict[str, Any]]) -> bytes:
    """``rows`` as the bytes of a file named ``name``: parquet, BEIR jsonl or a qrels tsv."""
    if name.endswith(".parquet"):
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows), buffer)
        return buffer.getvalue()
    if name.endswith(".jsonl"):
        return encode_jsonl(rows)
    if name.endswith(".tsv"):
        return encode_qrels((r["query-id"], r["corpus-id"], r["score"]) for r in rows)
    raise ValueError(f"no writer for export file {name}")


def export_run(
    cfg: SynthesisConfig, task: Task, store: RunStore, rows: list[dict[str, Any]]
) -> tuple[dict[str, int], dict[str, Any]]:
    """Write the export files; returns {file: rows} and notes such as the round-trip count."""
    kept = [row for row in rows if row["status"] == "ok"]
    notes: dict[str, Any] = {"kept_rows": len(kept)}
    if cfg.task == "queries" and cfg.filters.round_trip is not None and kept:
        before = len(kept)
        kept = round_trip(cfg, kept)
        notes["round_trip_dropped"] = before - len(kept)
    if (judge := task.judge_report(kept)) is not None:
        notes["judge"] = judge
    files = task.export(sorted(kept, key=lambda r: r["id"]))
    for name, file_rows in files.items():
        fs.write_bytes(store.path("export", *name.split("/")), encode_rows(name, file_rows))
    return {name: len(file_rows) for name, file_rows in files.items()}, notes
