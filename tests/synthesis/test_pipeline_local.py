"""The whole synthesis pipeline on Ray Data with the packaged SmolLM2 teacher on CPU, through the default engine
(vLLM's CPU build driven by ``ray.data.llm``): rows, provenance, stats, closed answers held to their choices,
exports the training loaders accept, counted error rows, resume (also after a SIGKILL) and the config guard of a
run folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from synthret_ray.config import ConfigError
from synthret_ray.synthesis.config import SynthesisConfig
from synthret_ray.synthesis.pipeline import synthesize
from synthret_ray.synthesis.store import RunStore
from synthret_ray.training.data import load_training_rows
from tests.conftest import REPO, SYNTHRET, TINY_CORPUS, TINY_QRELS, write_beir

pytestmark = pytest.mark.slow
ENGINE = {"kind": "vllm", "batch_size": 8}
TINY_QRELS_DOC = {q: next(iter(rels)) for q, rels in TINY_QRELS.items()}  # each tiny query's passage


LOCAL_ENGINE = {"kind": "local", "num_actors": 1, "cpus_per_actor": 1, "batch_size": 8}


def make_cfg(data: Path, out: Path, task: str, **values) -> SynthesisConfig:
    values.setdefault("engine", ENGINE)
    values.setdefault("sampling", {"max_new_tokens": 16})
    inputs = {"data": str(data), **values.pop("input", {})}
    return SynthesisConfig(task=task, input=inputs, output_dir=str(out), progress=False, **values)


@pytest.fixture
def corpus_with_edge_cases(tmp_path: Path) -> Path:
    corpus = {**TINY_CORPUS, "empty": ("", ""), "huge": ("Huge", " ".join(["sediment"] * 3000))}
    return write_beir(tmp_path / "data", corpus=corpus, split="train")


def test_queries_run_records_rows_provenance_and_stats_then_resumes(ray_local, corpus_with_edge_cases, tmp_path):
    out = tmp_path / "run"
    cfg = make_cfg(corpus_with_edge_cases, out, "queries", input={"max_passage_words": 40})
    result = synthesize(cfg)
    units = len(TINY_CORPUS) + 2
    rows = RunStore(str(out)).read_rows()
    assert len(rows) == units and len({r["id"] for r in rows}) == units
    by_doc = {r["doc_id"]: r for r in rows}
    assert (by_doc["empty"]["status"], by_doc["empty"]["reason"]) == ("filtered", "empty_input")
    assert by_doc["empty"]["prompt_tokens"] == 0  # never sent to the engine
    assert len(by_doc["huge"]["passage"].split()) == 40
    generated = [r for r in rows if r["doc_id"] != "empty"]
    assert all(r["prompt_tokens"] > 0 and r["completion_tokens"] > 0 for r in generated)
    assert all(r["status"] in ("ok", "malformed", "filtered") for r in rows)
    first = generated[0]
    assert (first["engine"], first["model"], first["prompt_version"]) == ("vllm", "smollm2", "queries-v1")
    assert json.loads(first["sampling"])["max_new_tokens"] == 16
    assert first["worker"] == "vllm-cpu:smollm2" and first["created_at"].endswith("+00:00")
    assert set(json.loads(first["raw"])) == {"query"}

    stats = json.loads((out / "stats.json").read_text())
    assert stats == result.stats
    run = stats["this_run"]
    assert run["rows_written"] == units and sum(run["statuses"].values()) == units
    assert run["generated_tokens"] == sum(r["completion_tokens"] for r in rows)
    assert run["generated_tokens_per_s"] > 0 and len(run["workers"]) == 1
    engine = run["engine"]
    assert (engine["device"], engine["replicas"], engine["cpus_per_replica"]) == ("cpu", 1, 1.0)
    # start-up (Ray Data actors, vLLM's engine) is apart from generation, whose speed excludes it
    assert engine["startup_seconds"] > 0 and 0 < engine["generation_seconds"] < run["wall_seconds"]
    assert engine["generated_tokens_per_s"] > run["generated_tokens_per_s"]
    assert engine["generated_tokens_per_s_per_cpu"] == engine["generated_tokens_per_s_per_replica"]
    assert stats["input"]["input_truncated"] == 1
    assert stats["run_folder"]["reasons"]["filtered: empty_input"] == 1
    ok = [r for r in rows if r["status"] == "ok"]
    assert stats["export"]["files"]["queries.jsonl"] == len(ok)
    assert len((out / "export" / "queries.jsonl").read_text().splitlines()) == len(ok)
    qrels = (out / "export" / "qrels" / "train.tsv").read_text().splitlines()
    assert qrels[0] == "query-id\tcorpus-id\tscore" and len(qrels) == len(ok) + 1
    assert ok, "the teacher kept no query on the fixture"  # greedy decoding: the same rows every run
    assert len(load_training_rows(str(out / "export" / "pairs.parquet"), "pairs").rows) == len(ok)

    folder = stats["run_folder"]  # one call: the folder's cost is this call's
    assert (folder["calls"], folder["wall_seconds"]) == (1, run["wall_seconds"])
    assert (folder["generated_tokens"], folder["actor_cpu_hours"]) == (run["generated_tokens"], run["actor_cpu_hours"])

    shards = sorted(os.listdir(out / "shards"))
    again = synthesize(cfg)
    assert again.stats["this_run"]["already_done"] == units and again.stats["this_run"]["rows_written"] == 0
    # the folder keeps the first call's cost (from its shards, written after its generation) beside this one's
    folder = again.stats["run_folder"]
    assert folder["calls"] == 2 and folder["generated_tokens"] == run["generated_tokens"]
    assert folder["wall_seconds"] > engine["generation_seconds"] + again.stats["this_run"]["wall_seconds"]
    assert sorted(os.listdir(out / "shards")) == shards

    changed = make_cfg(corpus_with_edge_cases, out, "queries", sampling={"max_new_tokens": 8})
    with pytest.raises(ConfigError, match="holds rows of a different config"):
        synthesize(changed)


def test_sampled_queries_with_split_prefills_run_on_cpu(ray_local, tmp_path):
    """``per_passage=2`` at temperature 0.8 with a scheduler budget of 32 tokens a step, so that every prompt's
    prefill is split: vLLM rewinds a seeded request's generator there, which a CPU generator cannot do (the engine
    died, and every restart of it), so on CPU requests carry no seed and the engine's seed draws the samples. Every
    unit is answered, none is an error, and each passage's two samples are drawn apart (not one answer twice)."""
    data = write_beir(tmp_path / "data", split="train")
    out = tmp_path / "run"
    engine = {**ENGINE, "engine_kwargs": {"max_num_batched_tokens": 32}}
    cfg = make_cfg(
        data, out, "queries", engine=engine, per_passage=2,
        sampling={"max_new_tokens": 16, "temperature": 0.8, "seed": 3},
    )  # fmt: skip
    synthesize(cfg)
    rows = RunStore(str(out)).read_rows()
    assert len(rows) == 2 * len(TINY_CORPUS) and all(r["status"] != "error" for r in rows), [r["reason"] for r in rows]
    raws = {}
    for r in rows:
        raws.setdefault(r["doc_id"], set()).add(r["raw"])
    assert sum(len(texts) == 2 for texts in raws.values()) >= len(TINY_CORPUS) - 1


def test_prefer_compares_dense_top_k_in_both_orders(ray_local, tmp_path):
    data = write_beir(tmp_path / "data", split="train")
    out = tmp_path / "prefer"
    result = synthesize(
        make_cfg(
            data,
            out,
            "prefer",
            candidates={"retriever": "dense", "model": "minilm", "k": 3},
            input={"queries": "train", "limit": 1},
            sampling={"max_new_tokens": 3},
        )
    )
    (row,) = RunStore(str(out)).read_rows()
    # MiniLM ranks each tiny query's own passage first
    assert len(row["doc_ids"]) == 3 and row["doc_ids"][0] == TINY_QRELS_DOC[row["query_id"]]
    assert sorted(json.loads(row["raw"])) == sorted(["0-1", "1-0", "0-2", "2-0", "1-2", "2-1"])
    assert set(json.loads(row["raw"]).values()) <= {"A", "B"}  # held to the choices by structured output
    assert len(row["winner"]) == 3
    # each pair's P(first wins), from both orders' answer probabilities, decides it beyond 0.5 +- 0.1
    for p_first, winner in zip(row["p_first"], row["winner"], strict=True):
        assert winner == ("first" if p_first > 0.6 else "second" if p_first < 0.4 else "tie")
    decided = sum(w in ("first", "second") for w in row["winner"])
    assert result.exported["align.parquet"] == decided


def _shards(run: Path) -> list[str]:
    return [n for n in os.listdir(run / "shards")] if (run / "shards").exists() else []


def forty_passages() -> dict[str, tuple[str, str]]:
    """Forty passages, to be answered one request at a time: vLLM answers the seven of the tiny corpus in about a
    second, too fast to kill anything part way."""
    corpus = {}
    for i in range(6):
        for j, (title, text) in enumerate(TINY_CORPUS.values()):
            corpus[f"p{i}-{j}"] = (title, f"{text} (Note {i}.)")
    return dict(list(corpus.items())[:40])


def test_a_killed_run_resumes_without_duplicates_or_losses(tmp_path):
    corpus = forty_passages()
    data = write_beir(tmp_path / "data", corpus=corpus, split="train")
    out = tmp_path / "run"
    command = [
        *SYNTHRET,
        "synthesize",
        "--task",
        "queries",
        "--out",
        str(out),
        "-q",
        f"input.data={data}",
        "shard_rows=1",
        "engine.batch_size=1",
        "engine.max_concurrent_batches=1",
        "sampling.max_new_tokens=12",
    ]
    env = {**os.environ, "RAY_ADDRESS": "local"}
    first = subprocess.Popen(
        command, cwd=REPO, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 400
    while len([n for n in _shards(out) if n.endswith(".parquet")]) < 2 and time.time() < deadline:
        assert first.poll() is None, "the run ended before it could be killed"
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)  # the driver and the local Ray cluster it started
    first.wait()
    before = {n: pq.read_table(out / "shards" / n).to_pylist() for n in _shards(out) if n.endswith(".parquet")}
    assert 2 <= sum(len(r) for r in before.values()) < len(corpus)

    # resumed with other batch sizes (resources, not the rows' identity): the rest goes in batches, not one by one
    resumed = [*command, "engine.batch_size=16", "engine.max_concurrent_batches=2"]
    second = subprocess.run(resumed, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    rows = RunStore(str(out)).read_rows()
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == len(corpus)
    for name, shard_rows in before.items():  # what the killed run wrote is still there, unchanged
        assert pq.read_table(out / "shards" / name).to_pylist() == shard_rows
    stats = json.loads((out / "stats.json").read_text())
    assert stats["this_run"]["already_done"] == sum(len(r) for r in before.values())
    # the killed call's time, up to its last shard, still counts in the stage's cost, and its rows' tokens
    folder = stats["run_folder"]
    assert folder["calls"] == 2 and folder["wall_seconds"] > stats["this_run"]["wall_seconds"]
    generated = sum(r["completion_tokens"] for r in rows)
    assert folder["generated_tokens"] == generated > stats["this_run"]["generated_tokens"]


def _pids(title: bytes) -> list[int]:
    """This test process's descendants by title (the Ray cluster of ``ray_local`` is its child): Ray names a worker
    after its actor (ray::MapWorker(MapBatches(EngineActor))), vLLM its engine process VLLM::EngineCore. Never a
    process of another test worker or of a benchmark running beside the tests."""
    import psutil

    pids = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if title in " ".join(proc.cmdline()).encode():
                pids.append(proc.pid)
        except psutil.Error:  # gone since it was listed
            continue
    return pids


def _synthesize_killing(cfg: SynthesisConfig, title: bytes, ready: Callable[[], bool]) -> tuple[dict, list[int]]:
    """``synthesize(cfg)`` while a thread SIGKILLs the first process titled ``title`` once ``ready()``."""
    import threading

    killed: list[int] = []

    def kill() -> None:
        deadline = time.time() + 300
        while time.time() < deadline and not killed:
            pids = _pids(title)
            if pids and ready():
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.2)

    killer = threading.Thread(target=kill)
    killer.start()
    result = synthesize(cfg)
    killer.join()
    assert killed, f"no {title.decode()} process was seen at work"
    return result.stats, killed


def test_a_dead_vllm_engine_and_an_over_long_prompt_cost_no_other_row(ray_local, tmp_path):
    """Two failures in one run (one engine start less for the test suite). vLLM's engine process killed
    mid-generation: Ray's engine stage exits its actor on the fatal engine error, Ray Data starts a new one and
    retries the unfinished rows; every row ends answered, once. A prompt longer than the context: vLLM refuses it,
    and that row alone becomes an error with vLLM's reason, counted in stats.json; a rerun retries only it."""
    corpus = {**forty_passages(), "huge": ("Huge", " ".join(["sediment"] * 400))}
    data = write_beir(tmp_path / "data", corpus=corpus, split="train")
    out = tmp_path / "run"
    engine = {**ENGINE, "batch_size": 1, "max_concurrent_batches": 1, "max_model_len": 384}
    cfg = make_cfg(
        data, out, "queries", engine=engine, sampling={"max_new_tokens": 12}, shard_rows=1,
        input={"max_passage_words": 400},
    )  # fmt: skip

    def generating() -> bool:  # rows are being written
        return len([n for n in _shards(out) if n.endswith(".parquet")]) >= 2

    stats, _ = _synthesize_killing(cfg, b"VLLM::EngineCore", generating)
    rows = RunStore(str(out)).read_rows()
    assert len(rows) == len({r["id"] for r in rows}) == len(corpus)
    by_doc = {r["doc_id"]: r for r in rows}
    assert by_doc["huge"]["status"] == "error" and "maximum context length is 384" in by_doc["huge"]["reason"]
    assert all(r["status"] != "error" for d, r in by_doc.items() if d != "huge"), [r["reason"] for r in rows]
    assert stats["this_run"]["rows_written"] == len(corpus) and stats["this_run"]["statuses"]["error"] == 1
    assert stats["run_folder"]["error_rate"] == round(1 / len(corpus), 4)
    assert [k for k in stats["run_folder"]["reasons"] if k.startswith("error: query: VLLMValidationError")]
    again = synthesize(cfg)
    assert (again.stats["this_run"]["already_done"], again.stats["this_run"]["rows_written"]) == (40, 1)


def test_a_killed_engine_actor_is_restarted_and_its_rows_retried(ray_local, tmp_path):
    """Ray Data's restart of a dead engine actor, shown with the in-process engine's actor (a killed vLLM actor is
    restarted by the same mechanism, at a minute of engine start-up each)."""
    data = write_beir(tmp_path / "data", split="train")
    out = tmp_path / "run"
    cfg = make_cfg(data, out, "queries", engine={**LOCAL_ENGINE, "batch_size": 1}, sampling={"max_new_tokens": 12})

    def past_loading() -> bool:  # inside generation
        time.sleep(4)
        return True

    stats, killed = _synthesize_killing(cfg, b"EngineActor", past_loading)
    rows = RunStore(str(out)).read_rows()
    assert len(rows) == len(TINY_CORPUS) and all(r["status"] != "error" for r in rows)
    assert stats["this_run"]["rows_written"] == len(TINY_CORPUS)
    assert any(f":{killed[0]}" not in r["worker"] for r in rows)  # a restarted actor finished the work


def test_progress_to_a_file_is_one_line_per_interval_not_a_carriage_return_bar():
    import io

    from synthret_ray.synthesis.pipeline import LineProgress

    out = io.StringIO()
    bar = LineProgress(4, "synthesize queries", interval=3600, stream=out)
    bar.update(1)
    bar.set_postfix(ok=1, bad=0, refresh=False)
    bar.update(1)
    assert out.getvalue() == ""  # nothing before the interval has passed
    bar.interval = 0
    bar.update(1)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue()
    assert lines[0].startswith("synthesize queries: 3/4 units (75%), ") and lines[0].endswith("units/s, ok=1, bad=0")
    assert lines[1].startswith("synthesize queries: 3/4 units (75%)")
