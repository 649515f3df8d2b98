"""``synthret data download NAME --out DIR``: a public BEIR zip from its official URL, md5-checked.

The archive is downloaded and unpacked inside a temporary folder next to ``DIR`` and moved into place
only when complete, so a failed or corrupted download never leaves a half-written dataset behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

BEIR_BASE_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets"

# md5 of each official zip, as published in BEIR's README.
BEIR_MD5 = {
    "msmarco": "444067daf65d982533ea17ebd59501e4",
    "trec-covid": "ce62140cb23feb9becf6270d0d1fe6d1",
    "nfcorpus": "a89dba18a62ef92f7d323ec890a0d38d",
    "nq": "d4d3d2e48787a744b6f6e691ff534307",
    "hotpotqa": "f412724f78b0d91183a0e86805e16114",
    "fiqa": "17918ed23cd04fb15047f73e6c3bd9d9",
    "arguana": "8ad3e3c2a5867cdced806d6503f29b99",
    "webis-touche2020": "46f650ba5a527fc69e0a6521c5a23563",
    "cqadupstack": "4e41456d7df8ee7760a7f866133bda78",
    "quora": "18fb154900ba42a600f84b839c173167",
    "dbpedia-entity": "c2a39eb420a3164af735795df012ac2c",
    "scidocs": "38121350fc3a4d2f48850f6aff52e4a9",
    "fever": "5a818580227bfb4b35bb6fa46d9b6c03",
    "climate-fever": "8b66f0a9126c521bae2bde127b4dc99d",
    "scifact": "5f7d1de60b170fc8027bb7898e2efca1",
}


class DownloadError(RuntimeError):
    """The download, the checksum or the archive failed; nothing was left in the output folder."""


def download_beir(
    name: str,
    out_dir: str | Path,
    base_url: str = BEIR_BASE_URL,
    md5: str | None = None,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download ``<base_url>/<name>.zip``, check its md5, unpack; returns the dataset folder ``out_dir/name``.

    ``md5`` is required for names outside :data:`BEIR_MD5` (a mirror or a private dataset).
    """
    expected = md5 or BEIR_MD5.get(name)
    if expected is None:
        raise DownloadError(f"unknown dataset {name!r}: pass --md5 for it, or pick one of {sorted(BEIR_MD5)}")
    out_dir = Path(out_dir)
    target = out_dir / name
    if target.exists():
        raise DownloadError(f"{target} already exists; remove it first or choose another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    url = f"{base_url.rstrip('/')}/{name}.zip"
    with tempfile.TemporaryDirectory(prefix=f".{name}-download-", dir=out_dir) as tmp:
        archive = Path(tmp) / f"{name}.zip"
        digest = _fetch(url, archive, timeout, progress)
        if digest != expected:
            raise DownloadError(f"md5 mismatch for {url}: expected {expected}, got {digest}; nothing was written")
        unpacked = Path(tmp) / "unpacked"
        try:
            with zipfile.ZipFile(archive) as zf:
                bad = zf.testzip()
                if bad is not None:
                    raise DownloadError(f"{url}: corrupted member {bad!r} in the archive; nothing was written")
                _safe_extract(zf, unpacked)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise DownloadError(f"{url} is not a valid zip archive ({exc}); nothing was written") from exc
        src = unpacked / name if (unpacked / name).is_dir() else unpacked
        if not (src / "corpus.jsonl").is_file():
            raise DownloadError(f"{url}: the archive holds no {name}/corpus.jsonl; nothing was written")
        os.replace(src, target)
    return target


def _fetch(url: str, dest: Path, timeout: float, progress: bool) -> str:
    from tqdm import tqdm

    md5 = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as f:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=f"download {dest.name}", disable=not progress
            ) as bar:
                while chunk := resp.read(1 << 20):
                    f.write(chunk)
                    md5.update(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DownloadError(f"{url}: cannot download ({exc})") from exc
    return md5.hexdigest()


def _safe_extract(zf: zipfile.ZipFile, dest: Path) -> None:
    root = dest.resolve()
    for member in zf.infolist():
        target = (dest / member.filename).resolve()
        if root not in target.parents and target != root:
            raise DownloadError(f"archive member {member.filename!r} would be written outside {dest}")
    zf.extractall(dest)
    shutil.rmtree(dest / "__MACOSX", ignore_errors=True)
