from __future__ import annotations

import json

import pytest

from synthret_ray.data import DataFormatError, doc_text, load_beir, read_corpus, read_qrels, read_queries
from tests.conftest import TINY_QRELS, write_beir


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_reads_lf_and_crlf(tmp_path, newline):
    root = write_beir(tmp_path, newline=newline)
    assert read_qrels(str(root), "test") == TINY_QRELS
    corpus = read_corpus(str(root))
    assert corpus["d1"]["title"] == "Sourdough" and not corpus["d1"]["text"].endswith("\r")
    assert read_queries(str(root))["q2"] == "largest coral reef in the world"


def test_load_keeps_only_judged_queries(tmp_path):
    root = write_beir(
        tmp_path, queries={"q1": "a", "q2": "b", "q9": "unjudged"}, qrels={"q1": {"d1": 1}, "q2": {"d2": 0}}
    )
    data = load_beir(str(root))
    assert set(data.queries) == {"q1", "q2"} and data.qrels["q2"] == {"d2": 0}


def test_doc_text_joins_title():
    assert doc_text({"title": "T", "text": "body"}) == "T body"
    assert doc_text({"title": "", "text": "body"}) == "body"


def test_bad_json_line_names_file_and_line(tmp_path):
    root = write_beir(tmp_path)
    with open(root / "corpus.jsonl", "a") as f:
        f.write('{"_id": "d9", "text": \n')
    with pytest.raises(DataFormatError, match=r"corpus\.jsonl:8: invalid JSON"):
        read_corpus(str(root))


def test_missing_field_names_field(tmp_path):
    root = write_beir(tmp_path)
    with open(root / "queries.jsonl", "a") as f:
        f.write(json.dumps({"_id": "q5"}) + "\n")
    with pytest.raises(DataFormatError, match=r"queries\.jsonl:5: field 'text': missing"):
        read_queries(str(root))


def test_unknown_ids_in_qrels_are_errors(tmp_path):
    root = write_beir(tmp_path, qrels={"q1": {"d1": 1, "nope": 1}})
    with pytest.raises(DataFormatError, match=r"test\.tsv: field 'corpus-id': 1 ids not in corpus\.jsonl"):
        load_beir(str(root))


def test_missing_split_lists_the_present_ones(tmp_path):
    root = write_beir(tmp_path, split="dev")
    with pytest.raises(DataFormatError, match=r"test\.tsv: file not found; splits present: \['dev'\]"):
        read_qrels(str(root), "test")


@pytest.mark.slow
def test_corpus_streams_as_ray_dataset(tmp_path, ray_local):
    root = write_beir(tmp_path)
    from synthret_ray.data.beir import corpus_dataset

    rows = corpus_dataset(str(root), override_num_blocks=2).take_all()
    assert {r["_id"] for r in rows} == {"d1", "d2", "d3", "d4", "d5", "d6", "q3"}
    assert next(r["text"] for r in rows if r["_id"] == "d5").startswith("Chess Chess is a board game")


def test_reads_through_a_filesystem_uri(tmp_path):
    root = write_beir(tmp_path / "uri")
    data = load_beir(f"file://{root}")
    assert data.qrels == TINY_QRELS and len(data.corpus) == 7


def test_a_data_format_error_survives_pickling_as_ray_sends_it():
    """Pins that the error keeps its fields across processes: raised in a Ray worker (a tune trial, a Ray Data
    task) it reached the driver as "TypeError: DataFormatError.__init__() missing 3 required positional arguments"."""
    import pickle

    error = DataFormatError("corpus.jsonl", 3, "_id", "missing")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.line, copy.field, copy.message) == ("corpus.jsonl", 3, "_id", "missing")
    assert str(copy) == str(error) == "corpus.jsonl:3: field '_id': missing"
