from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Tests never reach a model hub; Ray runs locally without telemetry.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# DeepSpeed JIT-compiles its CPU ops once (minutes); keep them in the project's cache.
os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "torch_extensions"))
os.environ.setdefault("SYNTHRET_CACHE", str(Path(__file__).resolve().parents[1] / ".cache" / "synthret"))

REPO = Path(__file__).resolve().parents[1]
SYNTHRET = [sys.executable, "-m", "synthret_ray.cli"]  # the CLI, as a user runs it


# A whole recipe takes up to 8 minutes here while the other test process runs beside it (make test runs two).
def run_synthret(*args: str, timeout: float = 1200, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*SYNTHRET, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)


# A tiny corpus where each query has one clearly matching document (and q3 shares its id with a document).
TINY_CORPUS = {
    "d1": ("Sourdough", "Sourdough bread is leavened by a culture of wild yeast and lactic acid bacteria."),
    "d2": ("Coral reefs", "The Great Barrier Reef is the largest coral reef system, off the coast of Queensland."),
    "d3": ("Photosynthesis", "Plants convert light energy, water and carbon dioxide into glucose and oxygen."),
    "d4": ("Volcanoes", "A volcano is a rupture in the crust through which lava, ash and gases escape."),
    "d5": ("Chess", "Chess is a board game for two players on a checkered board of sixty-four squares."),
    "d6": ("Jupiter", "Jupiter is the largest planet in the solar system, a gas giant with a great red spot."),
    "q3": ("Trap", "How do plants turn sunlight into sugar? This document carries the id of a query."),
}
TINY_QUERIES = {
    "q1": "what makes sourdough bread rise",
    "q2": "largest coral reef in the world",
    "q3": "how do plants turn sunlight into sugar",
    "q4": "board game with sixty-four squares",
}
TINY_QRELS = {"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d3": 2}, "q4": {"d5": 1}}


def write_beir(
    root: Path,
    corpus: dict[str, tuple[str, str]] | None = None,
    queries: dict[str, str] | None = None,
    qrels: dict[str, dict[str, int]] | None = None,
    split: str = "test",
    newline: str = "\n",
) -> Path:
    """Write a BEIR folder; ``newline="\\r\\n"`` reproduces BEIR's CRLF qrels files."""
    corpus = TINY_CORPUS if corpus is None else corpus
    queries = TINY_QUERIES if queries is None else queries
    qrels = TINY_QRELS if qrels is None else qrels
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    with open(root / "corpus.jsonl", "w", encoding="utf-8", newline="") as f:
        for did, (title, text) in corpus.items():
            f.write(json.dumps({"_id": did, "title": title, "text": text}) + newline)
    with open(root / "queries.jsonl", "w", encoding="utf-8", newline="") as f:
        for qid, text in queries.items():
            f.write(json.dumps({"_id": qid, "text": text}) + newline)
    with open(root / "qrels" / f"{split}.tsv", "w", encoding="utf-8", newline="") as f:
        f.write("query-id\tcorpus-id\tscore" + newline)
        for qid, rels in qrels.items():
            for did, score in rels.items():
                f.write(f"{qid}\t{did}\t{score}{newline}")
    return root


@pytest.fixture
def tiny_beir(tmp_path: Path) -> Path:
    return write_beir(tmp_path / "tiny")


@pytest.fixture
def ray_local():
    """A 2-CPU Ray cluster shared by the tests of this process: a start costs ~6 s on 2 cores, and a dozen tests
    use it. A test that needs another cluster calls ``ray.shutdown()``; the next test starts this one again.
    A test that leaves CPUs held (a leaked actor) gets the cluster shut down after it, so none leaks further."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if ray.is_initialized():
        deadline = time.time() + 15
        while ray.available_resources().get("CPU", 0) < 2 and time.time() < deadline:
            time.sleep(0.2)
        if ray.available_resources().get("CPU", 0) < 2:
            ray.shutdown()


def pytest_sessionfinish(session, exitstatus):
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


@pytest.fixture(scope="session")
def minilm_path() -> str:
    from synthret_ray.models import resolve_model

    return resolve_model("minilm").source


@pytest.fixture(scope="session")
def cross_encoder_dir(tmp_path_factory, minilm_path):
    """A cross-encoder built from the packaged MiniLM (untrained head: for plumbing, not quality)."""
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ce") / "model"
    CrossEncoder(minilm_path, num_labels=1, local_files_only=True).save(str(path))
    return str(path)
