from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from synthret_ray.cli import app
from synthret_ray.data.validate import validate_beir
from tests.conftest import write_beir


def _append(path, raw: bytes) -> None:
    with open(path, "ab") as f:
        f.write(raw)


def _messages(root) -> list[str]:
    return [str(p) for p in validate_beir(str(root)).problems]


def test_clean_folder_has_counts_and_no_problems(tiny_beir):
    report = validate_beir(str(tiny_beir))
    assert report.ok and report.problems == []
    assert report.counts == {"corpus": 7, "queries": 4, "qrels/test rows": 4, "qrels/test queries": 4}


@pytest.mark.parametrize(
    ("file", "raw", "expected"),
    [
        ("corpus.jsonl", b'{"_id": "d9", "text": "x"\n', r"error: .*corpus\.jsonl:8: invalid JSON"),
        ("corpus.jsonl", b'["d9", "x"]\n', r"corpus\.jsonl:8: expected a JSON object, got list"),
        ("corpus.jsonl", b'{"title": "t", "text": "x"}\n', r"corpus\.jsonl:8: field '_id': missing"),
        ("corpus.jsonl", b'{"_id": 9, "text": "x"}\n', r"corpus\.jsonl:8: field '_id': must be a non-empty string"),
        ("corpus.jsonl", b'{"_id": "d9", "title": "t"}\n', r"corpus\.jsonl:8: field 'text': missing"),
        (
            "corpus.jsonl",
            b'{"_id": "d1", "text": "again"}\n',
            r"corpus\.jsonl:8: field '_id': duplicate id 'd1' \(first on line 1\)",
        ),
        ("corpus.jsonl", b'{"_id": "d9", "text": "caf\xe9"}\n', r"corpus\.jsonl:8: not valid UTF-8"),
        ("queries.jsonl", b'{"_id": "q9", "text": "  "}\n', r"error: .*queries\.jsonl:5: field 'text': empty"),
        ("qrels/test.tsv", b"q1\td1\n", r"test\.tsv:6: expected 3 tab-separated columns, got 2"),
        ("qrels/test.tsv", b"q1\td2\thigh\n", r"test\.tsv:6: field 'score': must be an integer, got 'high'"),
        ("qrels/test.tsv", b"q7\td1\t1\n", r"test\.tsv:6: field 'query-id': unknown query id 'q7'"),
        ("qrels/test.tsv", b"q1\td7\t1\n", r"test\.tsv:6: field 'corpus-id': unknown document id 'd7'"),
    ],
)
def test_each_problem_is_reported_with_file_and_line(tiny_beir, file, raw, expected):
    _append(tiny_beir / file, raw)
    report = validate_beir(str(tiny_beir))
    assert not report.ok
    assert any(__import__("re").search(expected, m) for m in map(str, report.problems)), _messages(tiny_beir)


def test_empty_document_text_is_a_warning_not_an_error(tiny_beir):
    _append(tiny_beir / "corpus.jsonl", b'{"_id": "d9", "title": "", "text": ""}\n')
    report = validate_beir(str(tiny_beir))
    assert report.ok and len(report.warnings) == 1 and "field 'text': empty" in str(report.warnings[0])


def test_qrels_header_checks(tmp_path):
    root = write_beir(tmp_path)
    qrels = root / "qrels" / "test.tsv"
    qrels.write_text("qid\tdocid\trel\nq1\td1\t1\n")
    assert any("field 'header': expected" in m for m in _messages(root))
    qrels.write_text("q1\td1\t1\n")
    report = validate_beir(str(root))
    assert report.ok and "header': missing; the first line is read as data" in str(report.warnings[0])
    assert report.counts["qrels/test rows"] == 1


def test_duplicate_judgment_is_a_warning(tiny_beir):
    _append(tiny_beir / "qrels" / "test.tsv", b"q1\td1\t2\n")
    report = validate_beir(str(tiny_beir))
    assert report.ok and "judged again (first on line 2)" in str(report.warnings[0])


def test_missing_files(tmp_path):
    (tmp_path / "empty").mkdir()
    messages = _messages(tmp_path / "empty")
    assert any("corpus.jsonl: file not found" in m for m in messages)
    assert any("no qrels/<split>.tsv file found" in m for m in messages)
    assert "not a directory" in _messages(tmp_path / "absent")[0]


def test_listing_is_capped_per_file_but_counted(tiny_beir):
    _append(tiny_beir / "corpus.jsonl", b"not json\n" * 60)
    report = validate_beir(str(tiny_beir))
    assert len(report.errors) == 50 and report.suppressed == 10 and not report.ok


def test_cli_exit_codes_and_output(tiny_beir):
    runner = CliRunner()
    ok = runner.invoke(app, ["data", "validate", str(tiny_beir)])
    assert ok.exit_code == 0 and "0 error(s)" in ok.output and "corpus: 7" in ok.output
    _append(tiny_beir / "queries.jsonl", json.dumps({"_id": "q1", "text": "dup"}).encode() + b"\n")
    bad = runner.invoke(app, ["data", "validate", str(tiny_beir)])
    assert bad.exit_code == 1 and "queries.jsonl:5: field '_id': duplicate id 'q1'" in bad.output
