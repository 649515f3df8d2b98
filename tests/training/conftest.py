from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import TINY_CORPUS, TINY_QUERIES, write_beir

DOCS = {d: f"{title} {text}" for d, (title, text) in TINY_CORPUS.items()}
# Training queries are phrased differently from the dev queries of the tiny BEIR folder.
TRAIN = [
    ("t1", "how is sourdough leavened", "d1"),
    ("t2", "where is the great barrier reef", "d2"),
    ("t3", "how do plants make glucose from light", "d3"),
    ("t4", "what comes out of a volcano", "d4"),
    ("t5", "a game for two players on sixty-four squares", "d5"),
    ("t6", "which planet is the biggest", "d6"),
    ("t7", "wild yeast bread", "d1"),
    ("t8", "coral reef off queensland", "d2"),
]


def _others(did: str) -> list[str]:
    return [DOCS[o] for o in ("d1", "d2", "d3", "d4", "d5", "d6") if o != did]


def training_rows(stage: str) -> list[dict]:
    rows = []
    for qid, query, did in TRAIN:
        negatives = _others(did)
        if stage == "pairs":
            rows.append({"query_id": qid, "query": query, "positive": DOCS[did], "negatives": negatives[:1]})
        elif stage == "distill":
            # q_cot is the reasoning alone, not the query (a copy of the query would be the easiest positive)
            cot = f"The query asks about {DOCS[did].split()[0].lower()}, so the answer names it."
            rows.append({"query_id": qid, "query": query, "positives": [DOCS[did], cot], "negatives": negatives[:2]})
        elif stage == "align":
            rows.append({"query_id": qid, "query": query, "preferred": DOCS[did], "rejected": negatives[0]})
        elif stage == "listwise":
            docs = [DOCS[did], f"{DOCS[did].split('.')[0]}.", negatives[0], negatives[1]]
            rows.append({"query_id": qid, "query": query, "documents": docs, "labels": [3, 2, 1, 0]})
        elif stage == "reranker":
            rows.append({"query_id": qid, "query": query, "positive": DOCS[did], "negatives": negatives[:3]})
    return rows


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), str(path))
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def dev_beir(tmp_path: Path) -> Path:
    """The tiny corpus with its queries as a dev split (training fixtures never use a test split)."""
    return write_beir(tmp_path / "dev_beir", queries=TINY_QUERIES, split="dev")


@pytest.fixture
def stage_file(tmp_path: Path):
    def make(stage: str, suffix: str = ".parquet") -> Path:
        return write_rows(tmp_path / f"{stage}{suffix}", training_rows(stage))

    return make
