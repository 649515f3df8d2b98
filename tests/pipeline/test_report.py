"""report.html of a run folder: built from what a run leaves (summary.json, per-query results, plots, synthesis
shards), self-contained, and escaped."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from synthret_ray.evaluation.metrics import difference, paired_t_test
from synthret_ray.pipeline.report import write_report
from synthret_ray.synthesis.queries import QueriesTask
from synthret_ray.synthesis.store import COMMON_COLUMNS, RunStore

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def _per_query(path: Path, scores: list[float]) -> None:
    path.write_text("".join(json.dumps({"query_id": f"q{i}", "ndcg_at_10": s}) + "\n" for i, s in enumerate(scores)))


def _queries_shard(folder: Path) -> None:
    common = {k: None for k in COMMON_COLUMNS} | {"notes": [], "task": "queries", "prompt_tokens": 9}
    rows = [
        {**common, "id": "a", "status": "ok", "doc_id": "d1", "passage": "Wild yeast leavens sourdough.", "sample": 0,
         "query": "what leavens sourdough", "raw": json.dumps({"query": "what leavens sourdough"})},
        {**common, "id": "b", "status": "filtered", "reason": "echo", "doc_id": "d2", "sample": 0,
         "passage": "Coral <reefs> grow slowly.", "query": None, "raw": json.dumps({"query": "Coral <reefs> grow"})},
    ]  # fmt: skip
    RunStore(str(folder)).write_shard(rows, pa.schema({**COMMON_COLUMNS, **QueriesTask.columns}), 0)


def _fake_run(tmp_path: Path) -> Path:
    """What a finished sycl run leaves: summary.json, per-query results of two systems, a plot, a queries shard."""
    run = tmp_path / "run"
    (run / "evaluate").mkdir(parents=True)
    (run / "plots").mkdir()
    (run / "plots" / "test_metrics.png").write_bytes(PNG)
    base, ours = [0.2, 0.4, 0.5, 0.3], [0.3, 0.5, 0.5, 0.5]
    _per_query(run / "evaluate" / "zero-shot.per_query.jsonl", base)
    _per_query(run / "evaluate" / "listwise.per_query.jsonl", ours)
    _queries_shard(run / "queries")
    metrics = {"recall_at_100": 0.9, "mrr_at_10": 0.5, "num_queries": 4}
    summary = {
        "recipe": "sycl",
        "data": "corpus",
        "test_split": "test",
        "stages": {
            "queries": {
                "wall_seconds": 12.4,
                "rows": 2,
                "statuses": {"ok": 1, "filtered": 1},
                "reasons": {"filtered: echo": 1},
                "generated_tokens": 30,
                "actor_cpu_hours": 0.0034,
            },
        },  # fmt: skip
        "evaluation": {
            "systems": {"zero-shot": {**metrics, "ndcg_at_10": 0.35}, "listwise": {**metrics, "ndcg_at_10": 0.45}}
        },
        "plots": [str(run / "plots" / "test_metrics.png")],
    }
    (run / "summary.json").write_text(json.dumps(summary))
    return run


def test_report_shows_metrics_with_p_values_stages_plots_and_the_teachers_rows(tmp_path):
    run = _fake_run(tmp_path)
    html = Path(write_report(str(run))).read_text()
    p = paired_t_test(run / "evaluate" / "listwise.per_query.jsonl", run / "evaluate" / "zero-shot.per_query.jsonl")
    assert p == pytest.approx(0.0917, abs=1e-4)  # differences 0.1, 0.1, 0, 0.2: t = 0.1 / (0.0816 / 2) = 2.449
    systems = json.loads((run / "summary.json").read_text())["evaluation"]["systems"]
    gone = difference(systems["listwise"], systems["zero-shot"], run / "evaluate" / "missing.jsonl", run / "x.jsonl")
    assert gone[0] == pytest.approx(0.1) and gone[1] is None  # no per-query files: the difference, no p-value
    assert '<td class="n">+10.00</td>' in html and f'<td class="n">{p:.3g}</td>' in html
    assert "filtered: echo (1)" in html and '<td class="n">0.003</td>' in html  # stage table: reasons, CPU h
    assert "data:image/png;base64," in html and "http" not in html  # self-contained: no link to fetch
    assert "queries: 1 kept of 2" in html and "what leavens sourdough" in html
    # a dropped row shows its reason and what the teacher wrote, escaped
    assert "filtered: echo" in html and "Coral &lt;reefs&gt; grow" in html and "<reefs>" not in html


def test_report_of_a_run_without_a_test_split_says_so(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({"recipe": "sycl", "data": "c", "stages": {}, "evaluation": {}}))
    html = Path(write_report(str(run))).read_text()
    assert "No labelled test split was scored." in html and "No synthesis stage in this run." in html


def _chromium() -> str | None:
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(
    _chromium() is None, reason="no Chromium: `make test` installs Debian's chromium where apt-get runs"
)
def test_report_renders_in_headless_chromium_without_console_errors(tmp_path):
    """The page as a browser shows it: no console error (a script or resource that fails), and a screenshot that is
    not blank."""
    import subprocess

    from PIL import Image

    page = Path(write_report(str(_fake_run(tmp_path))))
    shot = tmp_path / "shot.png"
    command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
               f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900", f"--screenshot={shot}",
               page.as_uri()]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    pixels = Image.open(shot).convert("L")
    low, high = pixels.getextrema()
    assert high - low > 100  # text and table borders on a white page, not a blank screenshot
