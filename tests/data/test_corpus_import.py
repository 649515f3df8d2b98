"""A corpus outside the BEIR layout (parquet or jsonl, any column names) becomes a checked BEIR corpus.jsonl."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthret_ray.data.beir import DataFormatError, read_corpus
from synthret_ray.data.corpus_import import CorpusColumns, import_corpus, is_beir_folder


def test_a_folder_of_parquet_and_jsonl_files_with_other_column_names(tmp_path):
    source = tmp_path / "docs"
    source.mkdir()
    pq.write_table(
        pa.table({"doc": [1, 2], "body": ["Wild yeast.", ""], "heading": ["Bread", None]}), source / "a.parquet"
    )
    (source / "b.jsonl").write_text(json.dumps({"doc": "x3", "body": "Coral reefs."}) + "\n\n")
    (source / "notes.txt").write_text("not a corpus file")
    out = tmp_path / "beir"
    counts = import_corpus(str(source), str(out), CorpusColumns(id="doc", text="body", title="heading"))
    assert counts == {"source": str(source), "files": 2, "documents": 3, "empty_texts": 1}
    assert read_corpus(str(out)) == {
        "1": {"title": "Bread", "text": "Wild yeast."},
        "2": {"title": "", "text": ""},
        "x3": {"title": "", "text": "Coral reefs."},
    }
    assert is_beir_folder(str(out)) and not is_beir_folder(str(source))


@pytest.mark.parametrize(
    ("lines", "where", "message"),
    [
        (['{"id": "a", "text": "x"}', '{"id": "a", "text": "y"}'], ":2: field 'id'", "duplicate id 'a' (first at "),
        (['{"id": "a", "body": "x"}'], ":1: field 'text'", "missing (columns: id, body; set corpus_columns.text)"),
        (['{"id": "", "text": "x"}'], ":1: field 'id'", "must be a non-empty string or an integer"),
        (['{"id": "a", "text": 3}'], ":1: field 'text'", "must be a string, got int"),
        (['{"id": "a", "text": "x"}', "{broken"], ":2: ", "invalid JSON"),
    ],
)
def test_bad_input_names_file_line_and_field_and_writes_nothing(tmp_path, lines, where, message):
    source = tmp_path / "corpus.jsonl.src.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "beir"
    with pytest.raises(DataFormatError) as error:
        import_corpus(str(source), str(out), CorpusColumns(id="id"))
    assert f"{source}{where}" in str(error.value) and message in str(error.value)
    assert not (out / "corpus.jsonl").exists()


def test_a_parquet_row_with_a_null_text_names_its_row(tmp_path):
    source = tmp_path / "c.parquet"
    pq.write_table(pa.table({"_id": ["a", "b"], "text": ["x", None]}), source)
    with pytest.raises(DataFormatError, match=r"c\.parquet:2: field 'text': must be a string, got NoneType"):
        import_corpus(str(source), str(tmp_path / "beir"))
    csv = tmp_path / "corpus.csv"
    csv.write_text("_id,text\n")
    with pytest.raises(DataFormatError, match=r"corpus\.csv: a corpus file must end in \.parquet or \.jsonl"):
        import_corpus(str(csv), str(tmp_path / "out"))
