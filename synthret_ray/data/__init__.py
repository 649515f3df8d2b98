"""BEIR-layout data: readers (local or any pyarrow filesystem), validation, download."""

from __future__ import annotations

from synthret_ray.data.beir import (
    BeirData,
    DataFormatError,
    doc_text,
    load_beir,
    read_corpus,
    read_qrels,
    read_queries,
)

__all__ = ["BeirData", "DataFormatError", "doc_text", "load_beir", "read_corpus", "read_qrels", "read_queries"]
