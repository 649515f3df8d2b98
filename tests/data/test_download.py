from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from synthret_ray.cli import app
from synthret_ray.data import load_beir
from synthret_ray.data.download import DownloadError, download_beir
from tests.conftest import write_beir


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path):
    """A real HTTP server on 127.0.0.1 serving the files of a folder."""
    root = tmp_path / "served"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _zip_dataset(tmp_path, name: str) -> bytes:
    src = write_beir(tmp_path / "src" / name)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(src.rglob("*")):
            zf.write(path, f"{name}/{path.relative_to(src)}")
    return buf.getvalue()


def test_download_checks_md5_and_unpacks(tmp_path, http_root):
    root, url = http_root
    blob = _zip_dataset(tmp_path, "tiny")
    (root / "tiny.zip").write_bytes(blob)
    out = tmp_path / "datasets"
    path = download_beir("tiny", out, url, md5=hashlib.md5(blob).hexdigest(), progress=False)
    assert path == out / "tiny"
    assert len(load_beir(str(path)).queries) == 4
    assert sorted(p.name for p in out.iterdir()) == ["tiny"]  # no temporary folder left


def test_md5_mismatch_leaves_nothing(tmp_path, http_root):
    root, url = http_root
    (root / "tiny.zip").write_bytes(_zip_dataset(tmp_path, "tiny"))
    out = tmp_path / "datasets"
    with pytest.raises(DownloadError, match="md5 mismatch .* expected 0{32}, got [0-9a-f]{32}; nothing was written"):
        download_beir("tiny", out, url, md5="0" * 32, progress=False)
    assert list(out.iterdir()) == []


def _damage_members(blob: bytes) -> bytes:
    damaged = bytearray(blob)
    damaged[60:200] = b"\x00" * 140  # damage compressed member data, keep the directory at the end intact
    return bytes(damaged)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_damage_members, "(corrupted member|not a valid zip).*nothing was written"),
        (lambda blob: blob[:300], "not a valid zip archive"),
    ],
    ids=["corrupted", "truncated"],
)
def test_damaged_zip_with_matching_md5_leaves_nothing(tmp_path, http_root, damage, message):
    root, url = http_root
    blob = damage(_zip_dataset(tmp_path, "tiny"))
    (root / "tiny.zip").write_bytes(blob)
    out = tmp_path / "datasets"
    with pytest.raises(DownloadError, match=message):
        download_beir("tiny", out, url, md5=hashlib.md5(blob).hexdigest(), progress=False)
    assert list(out.iterdir()) == []


def test_http_error_and_unknown_name(tmp_path, http_root):
    _, url = http_root
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_beir("absent", tmp_path / "d", url, md5="0" * 32, progress=False)
    with pytest.raises(DownloadError, match="unknown dataset 'mystery': pass --md5"):
        download_beir("mystery", tmp_path / "d", url, progress=False)


def test_existing_target_is_not_overwritten(tmp_path, http_root):
    _, url = http_root
    (tmp_path / "d" / "scifact").mkdir(parents=True)
    (tmp_path / "d" / "scifact" / "keep.txt").write_text("mine")
    with pytest.raises(DownloadError, match="already exists"):
        download_beir("scifact", tmp_path / "d", url, progress=False)
    assert (tmp_path / "d" / "scifact" / "keep.txt").read_text() == "mine"


def test_cli_download(tmp_path, http_root):
    root, url = http_root
    blob = _zip_dataset(tmp_path, "tiny")
    (root / "tiny.zip").write_bytes(blob)
    runner = CliRunner()
    args = ["data", "download", "tiny", "--out", str(tmp_path / "d"), "--base-url", url]
    ok = runner.invoke(app, [*args, "--md5", hashlib.md5(blob).hexdigest()])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "d" / "tiny" / "corpus.jsonl").is_file()
    bad = runner.invoke(
        app, ["data", "download", "tiny", "--out", str(tmp_path / "e"), "--base-url", url, "--md5", "1" * 32]
    )
    assert bad.exit_code == 2 and "md5 mismatch" in bad.output
