"""Build the bundled `pydocs` demo corpus from the docstrings of CPython's standard library.

The corpus is committed under ``synthret_ray/resources/pydocs``; this script documents where it came
from and regenerates ``corpus.jsonl`` (docstrings differ slightly between Python versions, so the
committed file is the reference). Queries and qrels are hand-written and are not touched here.

    python scripts/build_pydocs_corpus.py --out synthret_ray/resources/pydocs
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import re
from pathlib import Path

MODULES = [
    "os",
    "os.path",
    "shutil",
    "glob",
    "fnmatch",
    "tempfile",
    "pathlib",
    "json",
    "csv",
    "re",
    "string",
    "textwrap",
    "difflib",
    "itertools",
    "functools",
    "collections",
    "heapq",
    "bisect",
    "math",
    "statistics",
    "random",
    "datetime",
    "time",
    "calendar",
    "hashlib",
    "base64",
    "zlib",
    "gzip",
    "urllib.parse",
    "subprocess",
    "shlex",
    "uuid",
    "secrets",
    "copy",
    "pprint",
    "operator",
    "sqlite3",
    "zipfile",
    "tarfile",
    "logging",
    "argparse",
    "threading",
    "queue",
    "socket",
    "struct",
    "html",
    "unicodedata",
    "fractions",
    "decimal",
    "contextlib",
    "dataclasses",
    "enum",
    "typing",
    "warnings",
    "traceback",
    "inspect",
    "io",
    "pickle",
]
MIN_WORDS = 12
MAX_WORDS = 220


def _clean(doc: str) -> str:
    doc = inspect.cleandoc(doc)
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", doc) if p.strip()]
    words: list[str] = []
    for p in paragraphs:
        if len(words) + len(p.split()) > MAX_WORDS and words:
            break
        words.extend(p.split())
    return " ".join(words[:MAX_WORDS])


def collect() -> list[dict]:
    docs, seen_text = [], set()
    for mod_name in MODULES:
        mod = importlib.import_module(mod_name)
        public = getattr(mod, "__all__", None) or [n for n in dir(mod) if not n.startswith("_")]
        for name in sorted(public):
            obj = getattr(mod, name, None)
            if not (inspect.isfunction(obj) or inspect.isbuiltin(obj) or inspect.isclass(obj)):
                continue
            doc = inspect.getdoc(obj)
            if not doc:
                continue
            text = _clean(doc)
            n = len(text.split())
            if n < MIN_WORDS or text in seen_text:
                continue
            seen_text.add(text)
            docs.append({"_id": f"{mod_name}.{name}", "title": f"{mod_name}.{name}", "text": text})
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    docs = collect()
    with open(args.out / "corpus.jsonl", "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    print(f"wrote {len(docs)} documents to {args.out / 'corpus.jsonl'}")


if __name__ == "__main__":
    main()
