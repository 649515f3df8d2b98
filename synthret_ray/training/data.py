"""Training files: one row per example, a schema per stage, checked before any worker starts.

  pairs     query, positive, negatives (list, optional)        supervised pairs, e.g. BEIR train qrels
  distill   query, positives (list), negatives (list)           Syntriever stage 1 (q^cot, verified p+ are positives)
  align     query_id, query, preferred, rejected                Syntriever stage 2, one LLM preference per row
  listwise  query, documents (list), labels (list of int 0..3)  SyCL graded documents
  reranker  query, positive, negatives (list)                   LCE groups for the cross-encoder

Files are parquet (a file or a folder of shards) or jsonl. Errors name the file and row; with
``skip_invalid_rows`` bad rows are dropped and counted instead.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from synthret_ray.data import fs
from synthret_ray.data.beir import DataFormatError

SCHEMAS: dict[str, dict[str, str]] = {
    "pairs": {"query": "str", "positive": "str"},
    "distill": {"query": "str", "positives": "list", "negatives": "list"},
    "align": {"query_id": "str", "query": "str", "preferred": "str", "rejected": "str"},
    "listwise": {"query": "str", "documents": "list", "labels": "list"},
    "reranker": {"query": "str", "positive": "str", "negatives": "list"},
}
OPTIONAL: dict[str, dict[str, str]] = {"pairs": {"negatives": "list"}}
MAX_LABEL = 3


def as_list(value: Any) -> list:
    """Ray Data hands list columns over as numpy arrays; plain readers give lists."""
    if value is None:
        return []
    return value.tolist() if isinstance(value, np.ndarray) else list(value)


@dataclass
class TrainingRows:
    rows: list[dict[str, Any]]
    skipped: Counter = field(default_factory=Counter)
    source: str = ""


def _files(path: str) -> list[str]:
    if fs.is_dir(path):
        names = fs.list_files(path, ".parquet") or fs.list_files(path, ".jsonl")
        if not names:
            raise DataFormatError(path, None, None, "folder holds no .parquet or .jsonl files")
        return [fs.join(path, n) for n in names]
    if not fs.exists(path):
        raise DataFormatError(path, None, None, "training data not found")
    return [path]


def _read(path: str) -> list[dict[str, Any]]:
    if path.endswith(".parquet"):
        filesystem, fs_path = fs.resolve(path)
        return pq.read_table(fs_path, filesystem=filesystem).to_pylist()
    rows = []
    for lineno, raw in enumerate(fs.iter_lines(path), start=1):
        if raw.strip():
            try:
                rows.append(json.loads(raw))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise DataFormatError(path, lineno, None, f"invalid JSON: {exc}") from None
    return rows


def row_problem(stage: str, row: dict[str, Any]) -> tuple[str, str] | None:
    """``(field, message)`` of the first problem of a row, or None."""
    for name, kind in {**SCHEMAS[stage], **OPTIONAL.get(stage, {})}.items():
        value = row.get(name)
        if value is None:
            if name in SCHEMAS[stage]:
                return name, "missing"
            continue
        if kind == "str" and (not isinstance(value, str) or not value.strip()):
            return name, f"must be a non-empty string, got {value!r:.60}"
        if kind == "list":
            if isinstance(value, np.ndarray):
                value = as_list(value)
            if not isinstance(value, list | tuple):
                return name, f"must be a list, got {type(value).__name__}"
            if name != "labels" and any(not isinstance(v, str) or not v.strip() for v in value):
                return name, "holds an empty or non-string text"
    if stage == "distill" and not as_list(row["positives"]):
        return "positives", "empty group: the query has no positive"
    if stage == "reranker" and not as_list(row["negatives"]):
        return "negatives", "empty group: an LCE group needs at least one hard negative"
    if stage == "listwise":
        docs, labels = as_list(row["documents"]), as_list(row["labels"])
        if len(docs) < 2:
            return "documents", f"a list-wise group needs at least 2 documents, got {len(docs)}"
        if len(labels) != len(docs):
            return "labels", f"{len(labels)} labels for {len(docs)} documents"
        bad = [v for v in labels if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_LABEL]
        if bad:
            return "labels", f"labels must be integers in 0..{MAX_LABEL}, got {bad[:3]}"
        if max(labels) == 0:
            return "labels", "no relevant document (every label is 0)"
    return None


def scan_training_rows(path: str, stage: str) -> Iterator[tuple[str, int, dict | None, tuple[str, str] | None]]:
    """``(file, row_number, row, problem)`` for every row of every training file under ``path``."""
    if stage not in SCHEMAS:
        raise KeyError(f"unknown stage {stage!r}; stages: {sorted(SCHEMAS)}")
    for file in _files(path):
        for index, row in enumerate(_read(file)):
            problem = row_problem(stage, row) if isinstance(row, dict) else ("<row>", "not an object")
            yield file, index + 1, row, problem


def _valid_rows(path: str, stage: str, skip_invalid: bool, skipped: Counter) -> Iterator[dict]:
    """Valid rows; a bad row raises, or with ``skip_invalid`` is counted in ``skipped`` by reason.
    Raises when no row is valid."""
    valid = 0
    for file, number, row, problem in scan_training_rows(path, stage):
        if problem is None:
            valid += 1
            yield row
        elif skip_invalid:
            skipped[f"{problem[0]}: {problem[1].split(',')[0]}"] += 1
        else:
            raise DataFormatError(file, number, problem[0], f"{problem[1]} (row {number} of stage {stage!r} data)")
    if not valid:
        raise DataFormatError(path, None, None, f"no valid {stage!r} training rows (skipped: {dict(skipped)})")


def load_training_rows(path: str, stage: str, skip_invalid: bool = False) -> TrainingRows:
    """Read and check every row into memory; raise on the first bad one unless ``skip_invalid``."""
    out = TrainingRows([], Counter(), path)
    out.rows.extend(_valid_rows(path, stage, skip_invalid, out.skipped))
    return out


def check_training_rows(path: str, stage: str, skip_invalid: bool = False) -> tuple[int, Counter]:
    """Like :func:`load_training_rows` but keeps nothing: ``(valid rows, skipped reasons)``."""
    skipped: Counter = Counter()
    valid = sum(1 for _ in _valid_rows(path, stage, skip_invalid, skipped))
    return valid, skipped


def training_dataset(path: str, stage: str, skip_invalid: bool = False):
    """The training files as a Ray Dataset, streamed by the workers; invalid rows filtered out if asked."""
    import ray.data

    files = _files(path)
    uris = [f if fs.is_remote(f) else fs.resolve(f)[1] for f in files]
    if files[0].endswith(".parquet"):
        ds = ray.data.read_parquet(uris)
    else:
        ds = ray.data.read_json(uris, lines=True)
    if skip_invalid:
        ds = ds.filter(lambda row: row_problem(stage, row) is None)
    return ds


def judged_pairs(
    corpus: dict[str, dict[str, str]], queries: dict[str, str], qrels: dict[str, dict[str, int]]
) -> list[dict[str, Any]]:
    """``pairs`` rows: each judged (query, document) with score > 0, the document's text as evaluation sees it."""
    from synthret_ray.data.beir import doc_text

    return [
        {"query_id": qid, "query": queries[qid], "positive": doc_text(corpus[did]), "negatives": []}
        for qid, rels in qrels.items()
        for did, score in rels.items()
        if score > 0 and doc_text(corpus[did])
    ]


def write_pairs_from_beir(data_dir: str, split: str, out: str | Path) -> int:
    """Export a BEIR split's judged pairs (score > 0) as a ``pairs`` training file; returns the row count."""
    from synthret_ray.data.beir import load_beir
    from synthret_ray.synthesis.export import encode_rows

    if split == "test":
        raise ValueError("refusing to export the test split as training data")
    data = load_beir(data_dir, split)
    rows = judged_pairs(data.corpus, data.queries, data.qrels)
    fs.write_bytes(str(out), encode_rows("pairs.parquet", rows))  # the writer the recipes' exports use
    return len(rows)
