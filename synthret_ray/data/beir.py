"""Readers for the BEIR layout: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``.

One scanner per file kind yields ``(line_number, record, problem)``; strict loading raises on the first
problem (naming file, line and field), while ``synthret data validate`` collects every problem.
Small datasets load in memory; ``corpus_dataset`` streams a large corpus as a Ray Dataset in shards.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from synthret_ray.data import fs

if TYPE_CHECKING:
    import ray.data

QRELS_HEADER = ("query-id", "corpus-id", "score")
QRELS_HEADER_LINE = "\t".join(QRELS_HEADER)


class DataFormatError(ValueError):
    """Malformed input; ``str()`` names the file, the line and the field."""

    def __init__(self, path: str, line: int | None, field_name: str | None, message: str):
        self.path, self.line, self.field, self.message = path, line, field_name, message
        where = path + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: {f'field {field_name!r}: ' if field_name else ''}{message}")

    def __reduce__(self):
        # pickled with its own fields: raised in a Ray worker it reaches the driver whole, not as a TypeError
        return type(self), (self.path, self.line, self.field, self.message)


@dataclass(frozen=True)
class Problem:
    """One finding of a scanner; ``severity`` is ``error`` or ``warning``."""

    path: str
    line: int | None
    field: str | None
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = self.path + (f":{self.line}" if self.line is not None else "")
        return f"{self.severity}: {where}: {f'field {self.field!r}: ' if self.field else ''}{self.message}"


def _decoded_lines(path: str) -> Iterator[tuple[int, str, Problem | None]]:
    """Non-blank lines as text, or a problem for a line that is not valid UTF-8."""
    for lineno, raw in enumerate(fs.iter_lines(path), start=1):
        if not raw.strip():
            continue
        try:
            yield lineno, raw.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            yield lineno, "", Problem(path, lineno, None, f"not valid UTF-8 (byte offset {exc.start} in the line)")


def scan_jsonl(path: str, kind: str) -> Iterator[tuple[int, dict[str, Any] | None, Problem | None]]:
    """Parse a corpus or queries file line by line; ``kind`` is ``corpus`` or ``queries``."""
    seen: dict[str, int] = {}
    for lineno, text, problem in _decoded_lines(path):
        if problem is not None:
            yield lineno, None, problem
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield lineno, None, Problem(path, lineno, None, f"invalid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(obj, dict):
            yield lineno, None, Problem(path, lineno, None, f"expected a JSON object, got {type(obj).__name__}")
            continue
        problem = _check_record(path, lineno, obj, kind, seen)
        yield lineno, (None if problem and problem.severity == "error" else obj), problem


def _check_record(path: str, lineno: int, obj: dict, kind: str, seen: dict[str, int]) -> Problem | None:
    if "_id" not in obj:
        return Problem(path, lineno, "_id", "missing")
    if not isinstance(obj["_id"], str) or not obj["_id"].strip():
        return Problem(path, lineno, "_id", f"must be a non-empty string, got {obj['_id']!r}")
    if "text" not in obj:
        return Problem(path, lineno, "text", "missing")
    if not isinstance(obj["text"], str):
        return Problem(path, lineno, "text", f"must be a string, got {type(obj['text']).__name__}")
    title = obj.get("title", "")
    if kind == "corpus" and not isinstance(title, str):
        return Problem(path, lineno, "title", f"must be a string, got {type(title).__name__}")
    if obj["_id"] in seen:
        return Problem(path, lineno, "_id", f"duplicate id {obj['_id']!r} (first on line {seen[obj['_id']]})")
    seen[obj["_id"]] = lineno
    if not obj["text"].strip():
        if kind == "corpus":  # kept, as BEIR does: qrels may still point at it
            what = "only the title will be indexed" if title.strip() else "the document is kept but cannot match"
            return Problem(path, lineno, "text", f"empty ({what})", "warning")
        return Problem(path, lineno, "text", "empty")
    return None


def scan_qrels(path: str) -> Iterator[tuple[int, tuple[str, str, int] | None, Problem | None]]:
    """Parse a ``query-id<TAB>corpus-id<TAB>score`` file (header line expected, CRLF or LF)."""
    for lineno, text, problem in _decoded_lines(path):
        if problem is not None:
            yield lineno, None, problem
            continue
        cols = text.split("\t")
        if lineno == 1:
            if tuple(c.strip() for c in cols) == QRELS_HEADER:
                continue
            if len(cols) == 3 and not _is_int(cols[2]):
                yield lineno, None, Problem(path, lineno, "header", f"expected {QRELS_HEADER_LINE!r}, got {text!r}")
                continue
            yield lineno, None, Problem(path, lineno, "header", "missing; the first line is read as data", "warning")
        if len(cols) != 3:
            yield lineno, None, Problem(path, lineno, None, f"expected 3 tab-separated columns, got {len(cols)}")
            continue
        qid, did, score = (c.strip() for c in cols)
        if not qid or not did:
            yield lineno, None, Problem(path, lineno, "query-id" if not qid else "corpus-id", "empty")
            continue
        if not _is_int(score):
            yield lineno, None, Problem(path, lineno, "score", f"must be an integer, got {score!r}")
            continue
        yield lineno, (qid, did, int(score)), None


def _is_int(value: str) -> bool:
    try:
        int(value.strip())
    except ValueError:
        return False
    return True


def _strict(items: Iterator[tuple[int, Any, Problem | None]]) -> Iterator[Any]:
    for _, record, problem in items:
        if problem is not None and problem.severity == "error":
            raise DataFormatError(problem.path, problem.line, problem.field, problem.message)
        if record is not None:
            yield record


def read_corpus(data_dir: str) -> dict[str, dict[str, str]]:
    """``{doc_id: {"title", "text"}}`` from ``corpus.jsonl``; raises :class:`DataFormatError` on bad lines."""
    path = _required(data_dir, "corpus.jsonl")
    return {o["_id"]: {"title": o.get("title") or "", "text": o["text"]} for o in _strict(scan_jsonl(path, "corpus"))}


def read_queries(data_dir: str) -> dict[str, str]:
    path = _required(data_dir, "queries.jsonl")
    return {o["_id"]: o["text"] for o in _strict(scan_jsonl(path, "queries"))}


def read_qrels(data_dir: str, split: str) -> dict[str, dict[str, int]]:
    path = _required(data_dir, "qrels", f"{split}.tsv")
    qrels: dict[str, dict[str, int]] = {}
    for qid, did, score in _strict(scan_qrels(path)):
        qrels.setdefault(qid, {})[did] = score
    return qrels


def encode_jsonl(records: Iterable[dict[str, Any]]) -> bytes:
    """JSON lines as ``corpus.jsonl`` / ``queries.jsonl`` hold them."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def encode_qrels(judgments: Iterable[tuple[str, str, int]]) -> bytes:
    """A ``qrels/<split>.tsv`` file: the header, then one ``query-id corpus-id score`` line per judgment."""
    lines = [QRELS_HEADER_LINE, *(f"{q}\t{d}\t{score}" for q, d, score in judgments)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def available_splits(data_dir: str) -> list[str]:
    return [name[: -len(".tsv")] for name in fs.list_files(fs.join(data_dir, "qrels"), ".tsv")]


def _required(data_dir: str, *parts: str) -> str:
    path = fs.join(data_dir, *parts)
    if not fs.exists(path):
        hint = ""
        if parts[0] == "qrels" and fs.is_dir(fs.join(data_dir, "qrels")):
            hint = f"; splits present: {available_splits(data_dir)}"
        raise DataFormatError(path, None, None, f"file not found{hint}")
    return path


def doc_text(doc: dict[str, str]) -> str:
    """The text a model sees for a document: title and body joined by a space (BEIR's convention)."""
    return f"{doc.get('title') or ''} {doc['text']}".strip()


@dataclass
class BeirData:
    """A split of a BEIR dataset in memory: only the queries that have judgments on that split are kept."""

    corpus: dict[str, dict[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    split: str
    path: str
    skipped_qrels: dict[str, int] = field(default_factory=dict)

    def sample_queries(self, n: int, seed: int = 0) -> BeirData:
        """The same split restricted to ``n`` of its queries drawn at random (all of them when it has at most
        ``n``): the draw depends only on the query ids, ``n`` and ``seed``, so every system evaluated with the same
        three scores the same queries."""
        if n >= len(self.queries):
            return self
        chosen = sorted(random.Random(seed).sample(sorted(self.queries), n))
        return replace(self, queries={q: self.queries[q] for q in chosen}, qrels={q: self.qrels[q] for q in chosen})


def load_beir(data_dir: str, split: str = "test") -> BeirData:
    """Load corpus, queries and the qrels of ``split``; judgments of unknown ids are errors."""
    corpus = read_corpus(data_dir)
    queries = read_queries(data_dir)
    qrels = read_qrels(data_dir, split)
    qrels_path = fs.join(data_dir, "qrels", f"{split}.tsv")
    unknown_q = sorted(q for q in qrels if q not in queries)
    if unknown_q:
        raise DataFormatError(
            qrels_path, None, "query-id", f"{len(unknown_q)} ids not in queries.jsonl, e.g. {unknown_q[:3]}"
        )
    unknown_d = sorted({d for rels in qrels.values() for d in rels if d not in corpus})
    if unknown_d:
        raise DataFormatError(
            qrels_path, None, "corpus-id", f"{len(unknown_d)} ids not in corpus.jsonl, e.g. {unknown_d[:3]}"
        )
    return BeirData(corpus, {q: queries[q] for q in qrels}, qrels, split, data_dir)


def corpus_dataset(data_dir: str, override_num_blocks: int | None = None) -> ray.data.Dataset:
    """Stream ``corpus.jsonl`` as a Ray Dataset with columns ``_id`` and ``text`` (title joined in)."""
    import ray.data

    path = _required(data_dir, "corpus.jsonl")
    # With lines=True Ray picks the filesystem from the URI scheme itself (it rejects `filesystem=`).
    uri = path if fs.is_remote(path) else fs.resolve(path)[1]
    ds = ray.data.read_json(uri, lines=True, override_num_blocks=override_num_blocks)
    return ds.map_batches(_join_title, batch_format="pandas")


def _join_title(batch):
    import pandas as pd

    title = batch["title"].fillna("").astype(str) if "title" in batch else pd.Series([""] * len(batch))
    text = (title + " " + batch["text"].astype(str)).str.strip()
    return pd.DataFrame({"_id": batch["_id"].astype(str), "text": text})
