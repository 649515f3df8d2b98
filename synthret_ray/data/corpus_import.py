"""A corpus that is not in the BEIR layout, as the BEIR folder every stage reads.

Users have a corpus, not a benchmark: a parquet or jsonl file, or a folder of them, local or on any pyarrow
filesystem, with an id and a text column of any name (and optionally a title). ``import_corpus`` writes it once as
``corpus.jsonl`` and checks it as ``synthret data validate`` checks a BEIR corpus: an invalid line, a missing or
empty id, a text that is not a string, a duplicate id (with where it first appeared) or bad UTF-8 stops the import
with an error naming the file, the line (parquet: the row, from 1) and the field; nothing is written until the
whole corpus has passed. Empty texts are kept and counted, as BEIR keeps them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import Field

from synthret_ray.config import StrictModel
from synthret_ray.data import fs
from synthret_ray.data.beir import DataFormatError, encode_jsonl

SUFFIXES = (".parquet", ".jsonl")


class CorpusColumns(StrictModel):
    id: str = Field("_id", description="Column holding each document's id (strings or integers).")
    text: str = Field("text", description="Column holding each document's text.")
    title: str | None = Field("title", description="Column holding a title (optional: absent is fine); null: none.")


def is_beir_folder(data: str) -> bool:
    return fs.is_dir(data) and fs.exists(fs.join(data, "corpus.jsonl"))


def corpus_files(source: str) -> list[str]:
    """The parquet / jsonl files of ``source`` (a file, or a folder of them, in name order)."""
    if not fs.exists(source):
        raise FileNotFoundError(f"data: {source} does not exist")
    if not fs.is_dir(source):
        if not source.endswith(SUFFIXES):
            raise DataFormatError(source, None, None, f"a corpus file must end in {' or '.join(SUFFIXES)}")
        return [source]
    files = sorted(fs.join(source, name) for suffix in SUFFIXES for name in fs.list_files(source, suffix))
    if not files:
        raise DataFormatError(source, None, None, "no corpus.jsonl (BEIR), nor any .parquet or .jsonl file")
    return files


def source_stamp(source: str) -> list[tuple[str, int, int]]:
    """(file, size, modification time) of each corpus file: a changed corpus is imported again."""
    stamp = []
    for path in corpus_files(source):
        filesystem, local = fs.resolve(path)
        info = filesystem.get_file_info(local)
        stamp.append((path, info.size, info.mtime_ns or 0))
    return stamp


def import_corpus(source: str, out_dir: str, columns: CorpusColumns | None = None) -> dict[str, Any]:
    """Write ``out_dir/corpus.jsonl`` from ``source``; returns counts. Raises :class:`DataFormatError`."""
    columns = columns or CorpusColumns()
    files = corpus_files(source)
    documents: list[dict[str, str]] = []
    seen: dict[str, str] = {}
    empty = 0
    for path in files:
        for line, record in _records(path):
            doc = _document(path, line, record, columns)
            if doc["_id"] in seen:
                raise DataFormatError(
                    path, line, columns.id, f"duplicate id {doc['_id']!r} (first at {seen[doc['_id']]})"
                )
            seen[doc["_id"]] = f"{path}:{line}"
            empty += not doc["text"].strip()
            documents.append(doc)
    if not documents:
        raise DataFormatError(source, None, None, "the corpus has no documents")
    fs.write_bytes(fs.join(out_dir, "corpus.jsonl"), encode_jsonl(documents))  # written whole, once checked
    return {"source": source, "files": len(files), "documents": len(documents), "empty_texts": empty}


def _records(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        filesystem, local = fs.resolve(path)
        row = 0
        for batch in pq.ParquetFile(local, filesystem=filesystem).iter_batches(batch_size=4096):
            for record in batch.to_pylist():
                row += 1
                yield row, record
        return
    for line, raw in enumerate(fs.iter_lines(path), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise DataFormatError(path, line, None, f"not valid UTF-8 (byte offset {exc.start} in the line)") from None
        except json.JSONDecodeError as exc:
            raise DataFormatError(path, line, None, f"invalid JSON: {exc.msg} at column {exc.colno}") from None
        if not isinstance(record, dict):
            raise DataFormatError(path, line, None, f"expected a JSON object, got {type(record).__name__}")
        yield line, record


def _document(path: str, line: int, record: dict[str, Any], columns: CorpusColumns) -> dict[str, str]:
    if columns.id not in record:
        raise DataFormatError(path, line, columns.id, f"missing (columns: {', '.join(record)}; set corpus_columns.id)")
    doc_id = record[columns.id]
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)) or not str(doc_id).strip():
        raise DataFormatError(path, line, columns.id, f"must be a non-empty string or an integer, got {doc_id!r}")
    if columns.text not in record:
        raise DataFormatError(
            path, line, columns.text, f"missing (columns: {', '.join(record)}; set corpus_columns.text)"
        )
    text = record[columns.text]
    if not isinstance(text, str):
        raise DataFormatError(path, line, columns.text, f"must be a string, got {type(text).__name__}")
    title = record.get(columns.title) if columns.title else None
    if title is not None and not isinstance(title, str):
        raise DataFormatError(path, line, columns.title, f"must be a string, got {type(title).__name__}")
    return {"_id": str(doc_id), "title": title or "", "text": text}
