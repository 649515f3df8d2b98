"""`synthret run`: a whole (tiny) SyCL recipe on Ray with the packaged teacher and student, stage skipping by
config hash, --from, and the rules that keep test queries out of synthesis, training and checkpoint selection."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from synthret_ray.config import ConfigError, hashed, load_config
from synthret_ray.data.beir import DataFormatError
from synthret_ray.pipeline import RecipeConfig, run_recipe
from tests.conftest import REPO, TINY_QRELS, TINY_QUERIES, run_synthret, write_beir

TRAIN_QUERIES = {
    "t1": "how is sourdough leavened",
    "t2": "biggest reef off queensland",
    "t3": "gas giant with a red spot",
    "t4": "what escapes from a volcano",
}
TRAIN_QRELS = {"t1": {"d1": 1}, "t2": {"d2": 1}, "t3": {"d6": 1}, "t4": {"d4": 1}}


def tiny_dataset(root: Path, train_qrels: dict | None = None) -> Path:
    queries = {**TINY_QUERIES, **TRAIN_QUERIES}
    write_beir(root, queries=queries, qrels=TINY_QRELS, split="test")
    return write_beir(root, queries=queries, qrels=train_qrels or TRAIN_QRELS, split="train")


def recipe(data: Path, run_dir: Path, **values) -> RecipeConfig:
    base = {
        "recipe": "sycl",
        "data": str(data),
        "run_dir": str(run_dir),
        "train_queries": "train",
        "dev_fraction": 0.25,
        "teacher": {"kind": "vllm", "batch_size": 8},
        "synthesis": {"graded": {"levels": [3, 2, 1, 0], "sampling": {"max_new_tokens": 40}}},
        "training": {
            "listwise": {"optim": {"epochs": 1, "batch_size": 2, "max_seq_length": 64}, "group": {"listwise_size": 2}}
        },
        "progress": False,
    }
    return RecipeConfig.model_validate({**base, **values})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ray_head(tmp_path):
    """A one-node Ray cluster started as users start one (`ray start --head`), with the job server on
    127.0.0.1. `--block` keeps the command alive, and its SIGTERM at the end stops this cluster's processes
    only: `ray stop` would stop every Ray instance of the machine, a benchmark running beside the tests too."""
    import ray

    ray.shutdown()  # the shared test cluster of this process: one cluster per driver
    ray_cli = str(Path(sys.executable).parent / "ray")
    port, dashboard = _free_port(), _free_port()
    start = [ray_cli, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2"]
    start += ["--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}"]
    # Ray's fixed default ports would collide with another Ray instance of this machine (the job agent's HTTP
    # port 52365, then "No available agent to submit job")
    start += [f"--dashboard-agent-listen-port={_free_port()}", f"--ray-client-server-port={_free_port()}"]
    # Its own temp dir (short: Ray's socket paths must fit 107 characters): `ray start` records its address in
    # <temp dir>/ray_current_cluster, and a later plain `ray.init()` would try to join this cluster once stopped.
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    start.append(f"--temp-dir={temp_dir}")
    log_file = tmp_path / "ray-start.log"
    with open(log_file, "w") as log:
        head = subprocess.Popen([*start, "--disable-usage-stats"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 180
        # up as a plain `ray start` returns (its job agent included) when the command says it now blocks
        while "block forever" not in log_file.read_text():
            if head.poll() is not None or time.time() > deadline:
                pytest.fail(f"ray start --head did not come up: {log_file.read_text()[-3000:]}")
            time.sleep(1)
        yield {"gcs": f"127.0.0.1:{port}", "jobs": f"http://127.0.0.1:{dashboard}", "cli": ray_cli}
    finally:
        ray.shutdown()
        head.terminate()  # `ray start --block` stops the processes it started, then exits
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
        gone = time.time() + 30
        while _accepts(port) and time.time() < gone:
            time.sleep(0.5)
        shutil.rmtree(temp_dir, ignore_errors=True)
        recorded = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"  # Ray's default temp dir
        assert not recorded.exists() or f":{port}" not in recorded.read_text(), "the test cluster left its address"
        assert not _accepts(port), "the head's GCS still answers after its `ray start --block` was stopped"


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_sycl_recipe_submitted_as_a_ray_job_then_skips_finished_stages_and_redoes_from_a_stage(ray_head, tmp_path):
    import ray

    data = tiny_dataset(tmp_path / "data")
    run_dir = tmp_path / "run"
    cfg = recipe(data, run_dir)
    config_file = tmp_path / "recipe.yaml"
    config_file.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_unset=True)))
    # As the README launches a recipe on a running cluster: the repository as working dir, outputs on a path
    # every node sees (here the one machine's disk).
    submit = [ray_head["cli"], "job", "submit", "--address", ray_head["jobs"], "--working-dir", str(REPO)]
    entrypoint = [sys.executable, "-m", "synthret_ray.cli", "run", "--config", str(config_file), "-q"]
    job = subprocess.run([*submit, "--", *entrypoint], capture_output=True, text=True, timeout=600)
    assert job.returncode == 0 and "succeeded" in job.stdout, job.stdout[-3000:] + job.stderr[-3000:]
    assert "[graded] running" in job.stdout and "listwise" in job.stdout

    summary = json.loads((run_dir / "summary.json").read_text())
    assert list(summary["stages"]) == ["split", "graded", "listwise", "evaluate"]
    split = summary["stages"]["split"]
    assert (split["train_queries"], split["dev_queries"], split["dropped_test_queries"]) == (3, 1, 0)
    train_ids = {json.loads(line)["_id"] for line in (run_dir / "split/train/queries.jsonl").read_text().splitlines()}
    dev_ids = {json.loads(line)["_id"] for line in (run_dir / "split/dev/queries.jsonl").read_text().splitlines()}
    assert train_ids | dev_ids == set(TRAIN_QUERIES) and not train_ids & dev_ids
    assert (run_dir / "split/dev/corpus.jsonl").is_symlink()
    assert summary["stages"]["graded"]["exported"]["listwise.parquet"] >= 1
    assert summary["stages"]["graded"]["actor_cpu_hours"] > 0 and summary["stages"]["listwise"]["worker_cpu_hours"] > 0
    history = summary["stages"]["listwise"]["history"]  # every report of the run, from train/listwise/metrics.jsonl
    logged = (run_dir / "train" / "listwise" / "metrics.jsonl").read_text().splitlines()
    assert [row["step"] for row in history] == [json.loads(line)["step"] for line in logged]
    assert history[0]["step"] == 0 and all("ndcg_at_10" in row for row in history)  # step 0: the starting model
    assert len(history) > 1 and all("loss" in row for row in history[1:])
    systems = summary["evaluation"]["systems"]
    assert set(systems) == {"bm25", "zero-shot", "listwise"}
    assert all(s["num_queries"] == len(TINY_QUERIES) for s in systems.values())  # the test split, scored once
    assert sorted(Path(p).name for p in summary["plots"]) == ["test_metrics.png", "training_curves.png"]
    assert all(Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in summary["plots"])
    report = (run_dir / "report.html").read_text()  # the run's page: metrics with p-values, stages, the teacher's rows
    assert "graded: " in report and "p (paired t)" in report and report.count("data:image/png;base64,") == 2
    (run_dir / "report.html").unlink()
    rebuilt = run_synthret("report", str(run_dir))
    assert rebuilt.returncode == 0 and (run_dir / "report.html").read_text() == report

    ray.init(address=ray_head["gcs"], log_to_driver=False)  # the same cluster, from a driver in this process
    ran: list[str] = []
    again = run_recipe(cfg, log=ran.append)
    assert len(ran) == 4 and all(line.endswith("skipped") for line in ran)  # the few-rows note only when it trains
    assert again["evaluation"] == summary["evaluation"]

    ran.clear()
    run_recipe(cfg, from_stage="evaluate", log=ran.append)
    assert ran == [f"[{s}] done before with the same config, skipped" for s in ("split", "graded", "listwise")] + [
        "[evaluate] running"
    ]


@pytest.mark.slow
def test_the_syntriever_recipe_prefers_among_stage_ones_top_k_and_aligns_from_stage_one(tmp_path):
    """The Syntriever wiring, run whole (the prefer candidates were injected by hand before): distill and verify
    through the real engine, the stage-1 model ranks the candidates the teacher compares, and stage 2 starts from
    it."""
    from synthret_ray.data import load_beir
    from synthret_ray.data.beir import doc_text
    from synthret_ray.evaluation import EvalConfig
    from synthret_ray.evaluation.runner import retrieve
    from synthret_ray.synthesis.store import RunStore
    from synthret_ray.training.data import load_training_rows

    data = tiny_dataset(tmp_path / "data")
    run_dir = tmp_path / "run"
    optim = {"epochs": 1, "batch_size": 2, "max_seq_length": 64}
    cfg = recipe(
        data,
        run_dir,
        recipe="syntriever",
        synthesis={
            "distill": {"negatives": 1, "sampling": {"max_new_tokens": 48}},
            # 6 pairs per query; SmolLM2's P(A) barely depends on the passages, so its averaged P(first wins) stays
            # near 0.5: no margin, or every pair would be a tie and stage 2 would have nothing to learn from
            "prefer": {"candidates": {"k": 4}, "prefer_margin": 0.0},
        },
        training={"stage1": {"optim": optim}, "stage2": {"optim": optim}},
        judge_check_queries=None,  # measured in the reranker recipe's test (an engine start less here)
    )
    config_file = tmp_path / "recipe.yaml"
    config_file.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_unset=True)))
    # in its own process, as the dense reranker recipe below: a whole recipe in the test process stalls later
    # Ray Train tests of that process
    done = run_synthret("run", "--config", str(config_file), "-q", env={**os.environ, "RAY_ADDRESS": "local"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    # distill: the query's own labelled passage rides along (the export's p_i); the teacher wrote q_cot, p+ and p-
    corpus = load_beir(str(data), "train").corpus
    distilled = RunStore(str(run_dir / "distill")).read_rows()
    assert distilled and all(set(json.loads(r["raw"])) == {"cot", "positive", "negative_0"} for r in distilled)
    for row in distilled:
        assert row["known_positives"] == [doc_text(corpus[d]) for d in TRAIN_QRELS[row["query_id"]]]
    # verify: structured output holds every verdict to yes / no, decided by P(yes) (vLLM's log-probabilities
    # through Ray's logprobs column) against 0.5; its export is stage 1's training file
    assert summary["stages"]["verify"]["rows"] == sum(r["status"] == "ok" for r in distilled)  # one per kept row
    verified = [r for r in RunStore(str(run_dir / "verify")).read_rows() if r["status"] == "ok"]
    assert verified and {json.loads(r["raw"])["verdict"] for r in verified} <= {"yes", "no"}
    assert all(0 <= r["p_yes"] <= 1 and r["verdict"] == ("yes" if r["p_yes"] >= 0.5 else "no") for r in verified)
    exported = summary["stages"]["verify"]["exported"]["distill.parquet"]
    assert (
        0 < exported == len(load_training_rows(str(run_dir / "verify" / "export" / "distill.parquet"), "distill").rows)
    )
    stage1 = run_dir / "train" / "stage1" / "model"
    units = RunStore(str(run_dir / "prefer")).read_rows()
    assert units
    train = load_beir(str(data), "train")  # the run's training queries are among the dataset's train split
    ranked = retrieve(EvalConfig(data=str(data), split="train", retriever="dense", model=str(stage1)), train, False)
    for row in units:  # the teacher compared stage 1's top 4, in stage 1's order
        top = sorted(ranked[row["query_id"]].items(), key=lambda kv: -kv[1])[:4]
        assert list(row["doc_ids"]) == [d for d, _ in top]
    stage2 = yaml.safe_load((run_dir / "train" / "stage2" / "model" / "synthret_train_config.yaml").read_text())
    assert stage2["model"] == str(stage1) == stage2["reference_model"]
    assert set(summary["evaluation"]["systems"]) >= {"zero-shot", "stage1", "stage2"}


@pytest.mark.slow
def test_merge_weight_scores_the_student_interpolated_with_its_start_and_reruns_only_merge_and_evaluate(tmp_path):
    import torch

    from synthret_ray.models import load_sentence_transformer

    data = tiny_dataset(tmp_path / "data")
    run_dir, config_file = tmp_path / "run", tmp_path / "recipe.yaml"
    training = {"pairs": {"optim": {"epochs": 1, "batch_size": 2, "max_seq_length": 64, "lr": 1e-4}}}

    def run(weight: float) -> tuple[dict, str]:
        cfg = recipe(data, run_dir, recipe="promptagator", synthesis={}, training=training, merge_weight=weight)
        config_file.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_unset=True)))
        done = run_synthret("run", "--config", str(config_file), env={**os.environ, "RAY_ADDRESS": "local"})
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return json.loads((run_dir / "summary.json").read_text()), done.stdout

    def layer(model: str) -> torch.Tensor:
        return load_sentence_transformer(model, device="cpu").state_dict()[
            "0.model.encoder.layer.5.attention.self.query.weight"
        ]

    summary, _ = run(0.5)
    assert list(summary["stages"]) == ["split", "pairs", "merge", "evaluate"]
    systems = summary["evaluation"]["systems"]
    assert set(systems) == {"bm25", "zero-shot", "pairs", "pairs-merged"}
    start, tuned = layer("minilm"), layer(str(run_dir / "train" / "pairs" / "model"))
    assert not torch.allclose(start, tuned)
    assert torch.allclose(layer(str(run_dir / "merge" / "model")), (start + tuned) / 2, atol=1e-6)

    summary, out = run(1.0)  # another weight: the trained student is kept, merge and evaluate run again
    assert "[pairs] done before with the same config, skipped" in out and "[merge] running" in out
    assert torch.equal(layer(str(run_dir / "merge" / "model")), tuned)
    systems = summary["evaluation"]["systems"]
    assert systems["pairs-merged"]["ndcg_at_10"] == systems["pairs"]["ndcg_at_10"]
    with pytest.raises(ValueError, match="merge_weight: the reranker recipe's student is a cross-encoder"):
        recipe(data, run_dir, recipe="reranker", synthesis={}, training={}, merge_weight=0.5)


def test_test_queries_never_train_or_select_checkpoints(tmp_path):
    """Pins the guards against the recipe's own test_split: they compared with the literal name `test`, so
    test_split=dl20 with dev_split=dl20 or train_queries=dl20 passed."""
    with pytest.raises(ValueError, match="train_queries: 'test' is test_split, which never feeds"):
        recipe(tmp_path, tmp_path / "r", train_queries="test")
    with pytest.raises(ValueError, match="dev_split: 'test' is test_split, which never selects checkpoints"):
        recipe(tmp_path, tmp_path / "r", dev_split="test")
    for field in ("train_queries", "dev_split"):
        with pytest.raises(ValueError, match=f"{field}: 'dl20' is test_split"):
            recipe(tmp_path, tmp_path / "r", test_split="dl20", **{field: "dl20"})
    # the stage configs the recipe derives carry its test split, so their own guards know it
    from synthret_ray.pipeline.runner import RecipeRun

    runner = RecipeRun(recipe(tmp_path, tmp_path / "r", test_split="dl20", dev_split="dev"))
    assert runner.query_task("graded").input.test_split == "dl20"
    assert runner.train_config("listwise", "x.parquet", "minilm").eval.test_split == "dl20"
    with pytest.raises(ValueError, match="synthesis.distill: not a task of recipe sycl"):
        recipe(tmp_path, tmp_path / "r", synthesis={"distill": {"negatives": 2}})
    with pytest.raises(ValueError, match=r"training.stage1: not a training stage of recipe promptagator \(\['pa"):
        recipe(tmp_path, tmp_path / "r", recipe="promptagator", synthesis={}, training={"stage1": {}})
    # mining reads the run's corpus; a stage that does not mine keeps its hash (no mine_corpus set)
    mining = {"pairs": {"group": {"mined_negatives": 2}}}
    run = RecipeRun(recipe(tmp_path, tmp_path / "r", recipe="promptagator", synthesis={}, training=mining))
    assert run.train_config("pairs", "x.parquet", "minilm").group.mine_corpus == str(tmp_path)
    plain = RecipeRun(recipe(tmp_path, tmp_path / "r", recipe="promptagator", synthesis={}, training={}))
    assert plain.train_config("pairs", "x.parquet", "minilm").group.mine_corpus is None


def test_split_drops_training_queries_judged_in_test(tmp_path):
    from synthret_ray.pipeline.splits import split_queries

    leaky = {**TRAIN_QRELS, "q1": {"d1": 1}, "q2": {"d2": 1}}  # two test queries also listed as training ones
    data = tiny_dataset(tmp_path / "data", train_qrels=leaky)
    out = split_queries(recipe(data, tmp_path / "run"), "", str(tmp_path / "split"))
    assert out["dropped_test_queries"] == 2 and out["train_queries"] + out["dev_queries"] == len(TRAIN_QUERIES)
    only_leaks = tiny_dataset(tmp_path / "data2", train_qrels={"q1": {"d1": 1}})
    with pytest.raises(DataFormatError, match="no training queries left"):
        split_queries(recipe(only_leaks, tmp_path / "run2"), "", str(tmp_path / "split2"))


def test_queries_generated_before_feed_the_split_and_their_content_keys_it(tmp_path):
    from synthret_ray.pipeline.runner import _fingerprint, stages_of
    from synthret_ray.pipeline.splits import split_queries

    data = tiny_dataset(tmp_path / "data")
    earlier = tmp_path / "earlier_run" / "queries"  # another run's queries stage: its export/ is BEIR
    generated = {f"g{i}": text for i, text in enumerate(TRAIN_QUERIES.values())}
    sources = {f"g{i}": rels for i, rels in enumerate(TRAIN_QRELS.values())}
    write_beir(earlier / "export", corpus={}, queries=generated, qrels=sources, split="train")
    cfg = recipe(data, tmp_path / "run", train_queries=str(earlier), dev_split=None)
    assert "queries" not in stages_of(cfg)
    out = split_queries(cfg, "", str(tmp_path / "split"))
    assert out["train_queries"] + out["dev_queries"] == len(generated)
    train_ids = {json.loads(line)["_id"] for line in (tmp_path / "split/train/queries.jsonl").read_text().splitlines()}
    assert train_ids and train_ids <= set(generated)
    before = _fingerprint(str(earlier))
    (earlier / "export" / "queries.jsonl").write_text(json.dumps({"_id": "g9", "text": "new"}) + "\n")
    assert _fingerprint(str(earlier)) != before  # new queries at the same path redo the split
    missing = recipe(data, tmp_path / "run2", train_queries=str(tmp_path / "nowhere"), dev_split=None)
    with pytest.raises(DataFormatError, match="neither a split of the dataset"):
        split_queries(missing, "", str(tmp_path / "split2"))


def test_dev_is_held_out_by_source_passage_and_max_queries_is_a_seeded_sample(tmp_path):
    """Pins the hold-out by passage (sibling queries of one passage landed in train and dev) and a sampled
    max_queries (it took the first ids in sort order)."""
    from synthret_ray.pipeline.splits import split_queries

    data = tiny_dataset(tmp_path / "data")
    earlier = tmp_path / "queries"
    generated, sources = {}, {}
    for doc in ("d1", "d2", "d3", "d4", "d5", "d6"):
        for k in range(4):  # four queries written from each passage
            generated[f"{doc}-g{k}"], sources[f"{doc}-g{k}"] = f"query {k} about {doc}", {doc: 1}
    write_beir(earlier / "export", corpus={}, queries=generated, qrels=sources, split="train")

    def side(out: Path, name: str) -> set[str]:
        return {json.loads(line)["_id"] for line in (out / name / "queries.jsonl").read_text().splitlines()}

    cfg = recipe(data, tmp_path / "run", train_queries=str(earlier), dev_split=None, dev_fraction=0.3)
    split_queries(cfg, "", str(tmp_path / "split"))
    train, dev = side(tmp_path / "split", "train"), side(tmp_path / "split", "dev")
    assert train and dev and train | dev == set(generated)
    assert not {q.split("-")[0] for q in train} & {q.split("-")[0] for q in dev}  # no passage on both sides
    capped = recipe(
        data, tmp_path / "run2", train_queries=str(earlier), dev_split=None, dev_fraction=0.3, max_queries=5
    )
    split_queries(capped, "", str(tmp_path / "split2"))
    sample = side(tmp_path / "split2", "train")
    assert len(sample) == 5 and sample <= train and sample != set(sorted(train)[:5])


def test_fewer_rows_than_a_batch_train_in_one_smaller_batch(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from synthret_ray.pipeline.runner import RecipeRun

    lists = tmp_path / "listwise.parquet"
    pq.write_table(pa.table({"query": ["q"] * 3, "documents": [["a", "b"]] * 3, "labels": [[1, 0]] * 3}), lists)
    logged: list[str] = []
    listnet = {"optim": {"batch_size": 8}, "loss": {"name": "listnet"}}
    big = RecipeRun(recipe(tmp_path, tmp_path / "r", training={"listwise": listnet}), log=logged.append)
    fitted = big.fit_batch("listwise", big.train_config("listwise", str(lists), "minilm"))
    assert fitted.optim.batch_size == 3 and fitted.optim.epochs == 1  # only the batch changes
    assert logged == [
        "[listwise] 3 training rows, fewer than one batch of 8 x 1 worker(s): optim.batch_size=3 for this stage"
    ]
    small = RecipeRun(recipe(tmp_path, tmp_path / "r"), log=logged.append)  # batch 2: nothing to fit
    assert small.fit_batch("listwise", small.train_config("listwise", str(lists), "minilm")).optim.batch_size == 2
    # Pins the refusal for the Wasserstein loss (it shrank the batch, which changes what its statistics compare)
    from synthret_ray.pipeline.runner import PipelineError

    one = tmp_path / "one.parquet"  # one row: no batch of 2 (it became batch_size=1, refused inside the worker)
    pq.write_table(pa.table({"query": ["q"], "documents": [["a", "b"]], "labels": [[1, 0]]}), one)
    with pytest.raises(PipelineError, match="1 training rows for 1 worker"):
        big.fit_batch("listwise", big.train_config("listwise", str(one), "minilm"))
    for loss in ("wasserstein", "wasserstein_paired"):
        listwise = {"optim": {"batch_size": 8}, "loss": {"name": loss}}
        wasserstein = RecipeRun(recipe(tmp_path, tmp_path / "r", training={"listwise": listwise}))
        with pytest.raises(PipelineError, match=f"the {loss} loss .* at most 3 yourself"):
            wasserstein.fit_batch("listwise", wasserstein.train_config("listwise", str(lists), "minilm"))


def test_stage_settings_are_validated_with_their_prefix(tmp_path):
    from synthret_ray.pipeline.runner import RecipeRun

    cfg = recipe(tmp_path, tmp_path / "r", synthesis={"graded": {"levels": [7]}})
    with pytest.raises(ConfigError, match="synthesis.graded"):
        RecipeRun(cfg).query_task("graded")
    with pytest.raises(ConfigError, match="--from: 'stage2' is not a stage of this run"):
        RecipeRun(recipe(tmp_path, tmp_path / "r"), from_stage="stage2")


def test_shipped_recipes_validate():
    from synthret_ray.pipeline.runner import RecipeRun

    configs = Path(__file__).resolve().parents[2] / "configs"
    paths = [configs / "quickstart.yaml", *sorted((configs / "recipes").glob("*.yaml"))]
    for path in paths:
        assert path.read_text().startswith("#")
        cfg = load_config(RecipeConfig, path)
        run = RecipeRun(cfg)  # each stage's settings validate as its SynthesisConfig / TrainConfig
        for task in cfg.synthesis:
            derived = {"input": {"data": cfg.data, "queries": "train", "source_run": "distill"}}
            if task == "prefer":  # the runner points prefer at the stage-1 model
                derived["candidates"] = {"retriever": "dense", "model": "stage1"}
            run.synthesis_config(task, **derived)
        for stage in cfg.training:
            run.train_config(stage, "train.parquet", cfg.student)


def test_plots_skip_training_curves_when_no_stage_trained(tmp_path):
    from synthret_ray.pipeline.plots import write_plots

    systems = {"bm25": {"ndcg_at_10": 0.5, "recall_at_100": 0.9}, "zero-shot": {"ndcg_at_10": 0.6}}
    summary = {"recipe": "sycl", "data": "d", "test_split": "test", "stages": {"split": {}}}
    written = write_plots({**summary, "evaluation": {"systems": systems}}, str(tmp_path))
    assert written == [str(tmp_path / "test_metrics.png")] and (tmp_path / "test_metrics.png").stat().st_size > 0


def test_metrics_log_keeps_the_last_report_of_a_step(tmp_path):
    from synthret_ray.training.trainer import MetricsLog, read_metrics_log

    log = MetricsLog(str(tmp_path / "metrics.jsonl"))
    for step, loss in [(1, 0.9), (2, 0.7), (2, 0.6), (3, 0.5)]:  # step 2 again: a resume before the next report
        log.after_report(None, [{"step": step, "loss": loss}], None)
    assert [(r["step"], r["loss"]) for r in read_metrics_log(log.uri)] == [(1, 0.9), (2, 0.6), (3, 0.5)]


def test_a_stage_that_keeps_under_half_its_rows_says_what_it_lost():
    from synthret_ray.pipeline.runner import low_yield_note

    reasons = {"filtered: too_long": 158, "filtered: echo": 34, "malformed: no text": 2, "filtered: duplicate": 1}
    note = low_yield_note("queries", {"ok": 8, "filtered": 193, "malformed": 2}, reasons)
    assert note is not None and note.startswith("[queries] kept 8 of 203 rows (4%); most lost to ")
    assert "filtered: too_long (158), filtered: echo (34), malformed: no text (2)." in note
    assert "duplicate" not in note
    assert low_yield_note("queries", {"ok": 5, "filtered": 5}, {"filtered: echo": 5}) is None  # half kept
    assert low_yield_note("verify", {}, {}) is None
    assert "most lost to error (3)." in low_yield_note("label", {"ok": 1, "error": 3}, {})


def test_a_corpus_without_a_labelled_test_split_is_not_scored_and_the_run_says_so(tmp_path):
    from synthret_ray.pipeline.plots import write_plots
    from synthret_ray.pipeline.runner import RecipeRun

    data = tmp_path / "corpus_only"
    data.mkdir()
    (data / "corpus.jsonl").write_text(json.dumps({"_id": "d1", "title": "", "text": "Wild yeast."}) + "\n")
    logged: list[str] = []
    run = RecipeRun(recipe(data, tmp_path / "r", train_queries="generate"), log=logged.append)
    result = run._evaluate({"zero-shot": {"retriever": "dense", "model": "minilm"},
                            "listwise": {"retriever": "dense", "model": "r/train/listwise/model"}})  # fmt: skip
    assert result == {"systems": {}, "scored": False} and "evaluate" not in run.summaries
    assert logged == [
        f"[evaluate] {data} has no labelled test split (qrels/test.tsv): nothing was scored. Checkpoints were "
        "selected on held-out generated queries; the trained models: listwise: r/train/listwise/model"
    ]
    summary = {"recipe": "sycl", "data": str(data), "test_split": "test", "stages": {}, "evaluation": result}
    assert write_plots(summary, str(tmp_path / "plots")) == []  # no test metrics to plot


def test_a_parquet_corpus_is_imported_once_into_the_run_folder_as_the_data_every_stage_reads(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from synthret_ray.pipeline.runner import RecipeRun, stages_of

    corpus = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"doc_id": ["a", "b"], "body": ["Wild yeast.", "Coral reefs."]}), corpus)
    cfg = recipe(corpus, tmp_path / "r", train_queries="generate", corpus_columns={"id": "doc_id", "text": "body"})
    assert stages_of(cfg)[:2] == ["corpus", "queries"]
    logged: list[str] = []
    run = RecipeRun(cfg, log=logged.append)
    run._import_corpus()
    assert run.cfg.data == str(tmp_path / "r" / "corpus") and run.summaries["corpus"]["documents"] == 2
    assert (tmp_path / "r" / "corpus" / "corpus.jsonl").read_text().count("\n") == 2
    again = RecipeRun(cfg, log=logged.append)
    again._import_corpus()
    assert logged[-1] == "[corpus] done before with the same config, skipped"


def test_a_stage_with_too_few_rows_says_so_before_training():
    from synthret_ray.pipeline.runner import FEW_ROWS, few_rows_note

    note = few_rows_note("listwise", 16, "minilm")
    assert note.startswith("[listwise] the teacher left 16 training rows, fewer than 100: too few to expect minilm")
    assert few_rows_note("listwise", FEW_ROWS, "minilm") is None and few_rows_note("stage1", None, "minilm") is None
    assert "qwen-coder-1.5b" in few_rows_note("listwise", 16, "minilm", "smollm2")
    assert "qwen-coder-1.5b" not in few_rows_note("stage2", 37, "minilm", "qwen-coder-1.5b")  # it is the teacher


def test_a_reranker_below_its_first_stage_on_dev_says_so():
    from synthret_ray.pipeline.runner import below_first_stage_note

    best = {"step": 27, "ndcg_at_10": 0.1754, "first_stage_ndcg_at_10": 0.3452}
    note = below_first_stage_note("reranker", best, "BM25")
    assert note is not None and note.startswith("[reranker] dev nDCG@10 0.1754 after reranking, below 0.3452 for BM25")
    assert "below 0.3452 for dense minilm alone" in below_first_stage_note("reranker", best, "dense minilm")
    assert below_first_stage_note("reranker", {"ndcg_at_10": 0.40, "first_stage_ndcg_at_10": 0.35}, "BM25") is None
    # scored fused (as recipes do), the note reads the cross-encoder alone: fusion at w=0 hides nothing
    fused = {"ndcg_at_10": 0.3452, "cross_encoder_ndcg_at_10": 0.1754, "first_stage_ndcg_at_10": 0.3452}
    assert below_first_stage_note("reranker", fused, "BM25").startswith("[reranker] dev nDCG@10 0.1754")
    assert below_first_stage_note("listwise", {"ndcg_at_10": 0.10}, "BM25") is None  # dense stages have none
    assert below_first_stage_note("reranker", {"step": 3}, "BM25") is None  # trained without dev queries


def test_a_rerankers_training_curve_draws_its_first_stage():
    from synthret_ray.pipeline.plots import _training_curves

    history = [
        {"step": 0, "ndcg_at_10": 0.086, "first_stage_ndcg_at_10": 0.345},
        {"step": 9, "loss": 2.077, "ndcg_at_10": 0.175, "first_stage_ndcg_at_10": 0.345},
    ]
    fig = _training_curves({"reranker": history, "listwise": [{"step": 0, "ndcg_at_10": 0.4}]})
    twins = [ax for ax in fig.axes if ax.get_ylabel() == "dev nDCG@10"]  # one per stage, in order

    def first_stage_lines(ax):
        return [list(line.get_ydata()) for line in ax.get_lines() if line.get_label() == "first stage alone (dev)"]

    assert first_stage_lines(twins[0]) == [[0.345, 0.345]]
    assert first_stage_lines(twins[1]) == []  # a dense stage has no first stage


@pytest.mark.slow
def test_the_reranker_recipe_picks_its_fusion_weight_on_dev(tmp_path, cross_encoder_dir):
    from synthret_ray.evaluation import EvalConfig, run_eval
    from synthret_ray.pipeline.runner import RecipeRun

    data = tiny_dataset(tmp_path / "data")
    values = {"recipe": "reranker", "train_queries": "generate", "dev_split": "train", "rerank_depth": 3}
    values.update(synthesis={}, training={})
    logged: list[str] = []
    weight = RecipeRun(recipe(data, tmp_path / "r", **values), log=logged.append)._fusion(cross_encoder_dir)
    saved = json.loads((tmp_path / "r" / "fusion" / "fusion.json").read_text())
    table = {float(w): v for w, v in saved["dev_ndcg_at_10"].items()}
    assert saved["weight"] == weight and saved["chosen"] == "dev" and len(table) == 11
    assert table[weight] == max(table.values()) and all(table[w] < table[weight] for w in table if w < weight)
    # the ends of the table are BM25 alone and the cross-encoder alone, as `synthret eval` scores them on dev
    dev = {"data": str(data), "split": "train"}
    bm25 = run_eval(EvalConfig(**dev), progress=False).metrics["ndcg_at_10"]
    reranker = {"model": cross_encoder_dir, "depth": 3}
    alone = run_eval(EvalConfig(**dev, reranker=reranker), progress=False).metrics["ndcg_at_10"]
    assert table[0.0] == pytest.approx(bm25, abs=1e-4) and table[1.0] == pytest.approx(alone, abs=1e-4)
    assert f"the test split is reranked with weight {weight} (dev)" in logged[-1]
    fixed = RecipeRun(recipe(data, tmp_path / "r", **values, rerank_fusion=0.3), log=logged.append)
    assert fixed._fusion(cross_encoder_dir) == 0.3
    assert json.loads((tmp_path / "r" / "fusion" / "fusion.json").read_text())["chosen"] == "config"


def test_the_fusion_stage_without_dev_queries_needs_a_weight(tmp_path):
    from synthret_ray.pipeline.runner import PipelineError, RecipeRun

    values = {"recipe": "reranker", "train_queries": "generate", "synthesis": {}, "training": {}}
    run = RecipeRun(recipe(tmp_path, tmp_path / "r", **values), log=lambda line: None)
    run.summaries["split"] = {"train_queries": 1, "dev_queries": 0}
    with pytest.raises(PipelineError, match="no dev queries to choose the cross-encoder's weight on"):
        run._fusion("unused")
    fixed = RecipeRun(recipe(tmp_path, tmp_path / "r2", **values, rerank_fusion=1), log=lambda line: None)
    fixed.summaries["split"] = {"train_queries": 1, "dev_queries": 0}
    assert fixed._fusion("unused") == 1


def test_the_label_task_judges_the_first_stages_candidates_unless_told_otherwise(tmp_path):
    from synthret_ray.pipeline.runner import RecipeRun

    values = {"recipe": "reranker", "training": {}, "first_stage": {"retriever": "dense", "model": "minilm"}}
    dense = RecipeRun(recipe(tmp_path, tmp_path / "r", **values, synthesis={})).label_config().candidates
    assert (dense.retriever, dense.model, dense.k) == ("dense", "minilm", 10)
    bm25 = {"label": {"candidates": {"retriever": "bm25", "k": 20}}}  # label BM25's, rerank MiniLM's
    told = RecipeRun(recipe(tmp_path, tmp_path / "r", **values, synthesis=bm25)).label_config().candidates
    assert (told.retriever, told.model, told.k) == ("bm25", None, 20)
    default = RecipeRun(recipe(tmp_path, tmp_path / "r", recipe="reranker", synthesis={}, training={}))
    assert hashed(default.label_config().candidates) == {"retriever": "bm25", "model": None, "k": 10}


def test_test_max_queries_scores_every_system_on_one_sample_and_keys_the_evaluate_stage(tmp_path):
    from synthret_ray.pipeline.runner import RecipeRun

    data = tiny_dataset(tmp_path / "data")
    logged: list[str] = []
    sampled = RecipeRun(recipe(data, tmp_path / "r", test_max_queries=2), log=logged.append)._evaluate({})
    bm25 = sampled["systems"]["bm25"]
    assert (bm25["num_queries"], bm25["sampled_from"]) == (2, 4)
    assert any("every system is scored on the same random 2 of the test split's queries" in line for line in logged)
    per_query = tmp_path / "r" / "evaluate" / "bm25.per_query.jsonl"
    assert len(per_query.read_text().splitlines()) == 2
    # every query now: not the same config, so the stage is redone rather than skipped
    whole = RecipeRun(recipe(data, tmp_path / "r"), log=logged.append)._evaluate({})
    assert whole["systems"]["bm25"]["num_queries"] == 4 and "sampled_from" not in whole["systems"]["bm25"]
    assert len(per_query.read_text().splitlines()) == 4


def test_rerank_fusion_outside_zero_to_one_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match="rerank_fusion"):
        load_config(
            RecipeConfig, None, ["recipe=reranker", f"data={tmp_path}", f"run_dir={tmp_path}", "rerank_fusion=1.5"]
        )


@pytest.mark.slow
def test_the_reranker_recipe_labels_reranks_and_fuses_a_dense_first_stage(tmp_path):
    from synthret_ray.data import load_beir
    from synthret_ray.evaluation import EvalConfig, run_eval
    from synthret_ray.evaluation.runner import retrieve
    from synthret_ray.synthesis.store import RunStore

    data = tiny_dataset(tmp_path / "data")
    run_dir = tmp_path / "run"
    cfg = recipe(
        data,
        run_dir,
        recipe="reranker",
        first_stage={"retriever": "dense", "model": "minilm"},
        rerank_depth=4,
        synthesis={"label": {"candidates": {"k": 3}, "sampling": {"max_new_tokens": 8}}},
        training={
            "reranker": {
                "optim": {"epochs": 1, "batch_size": 2, "max_seq_length": 64},
                "group": {"reranker_negatives": 2},
                "eval": {"depth": 4},
            }
        },
    )
    config_file = tmp_path / "recipe.yaml"
    config_file.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_unset=True)))
    # As a user runs it, in its own process and local Ray cluster: run in the test process, it was followed by
    # Ray Train tests of that process stalling with a CPU held (three full runs out of three)
    done = run_synthret("run", "--config", str(config_file), "-q", env={**os.environ, "RAY_ADDRESS": "local"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    logged = done.stdout.splitlines()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert list(summary["stages"]) == ["split", "judge_check_label", "label", "reranker", "fusion", "evaluate"]
    # the teacher as judge, measured with label's prompt on the dev queries' labelled pairs
    checked = RunStore(str(run_dir / "judge_check" / "label")).read_rows()
    dev_ids = {json.loads(line)["_id"] for line in (run_dir / "split" / "dev" / "queries.jsonl").open()}
    assert {row["query_id"] for row in checked} == dev_ids and {"judged", "random"} <= {r["kind"] for r in checked}
    assert sum(summary["stages"]["judge_check_label"]["judge"]["pairs"].values()) == len(checked)
    assert any(line.startswith("[judge_check_label] the teacher as judge on") for line in logged)
    page = (run_dir / "report.html").read_text()
    assert "<b>judge_check_label</b>: pairs: judged:" in page and "<h3>judge_check label:" in page

    # the teacher labelled MiniLM's top 3 of each training query, not BM25's
    train = EvalConfig(data=str(data), split="train", retriever="dense", model="minilm")
    labelled = {row["query_id"]: list(row["doc_ids"]) for row in RunStore(str(run_dir / "label")).read_rows()}
    top = retrieve(train, load_beir(str(data), "train"), progress=False)
    assert len(labelled) == summary["stages"]["split"]["train_queries"]
    assert labelled == {q: sorted(top[q], key=top[q].get, reverse=True)[:3] for q in labelled}

    # dev: MiniLM alone is the line the reranker's reports carry and the fusion table's weight-0 end
    dev = EvalConfig(data=str(run_dir / "split" / "dev"), split="dev", retriever="dense", model="minilm")
    dense_dev = run_eval(dev, progress=False).metrics["ndcg_at_10"]
    history = summary["stages"]["reranker"]["history"]
    assert history and all(row["first_stage_ndcg_at_10"] == pytest.approx(dense_dev) for row in history)
    fusion = json.loads((run_dir / "fusion" / "fusion.json").read_text())
    assert fusion["first_stage"] == "dense minilm" and fusion["dev_ndcg_at_10"]["0.0"] == round(dense_dev, 4)
    assert any(
        line.startswith("[fusion] dev nDCG@10 by the cross-encoder's weight against dense minilm") for line in logged
    )

    # test: MiniLM alone, and its top 4 reranked by the cross-encoder with the weight chosen on dev
    systems = summary["evaluation"]["systems"]
    assert set(systems) == {"bm25", "dense", "dense >> reranker"}
    reranked = systems["dense >> reranker"]
    written = json.loads((run_dir / "evaluate" / "dense_reranker.json").read_text())
    assert written["system"].startswith(f"dense:minilm >> {run_dir / 'train' / 'reranker' / 'model'}@4")
    assert reranked["recall_at_100"] == systems["dense"]["recall_at_100"]  # reranking reorders, never drops
    weight = fusion["weight"]
    test = EvalConfig(
        data=str(data),
        split="test",
        retriever="dense",
        model="minilm",
        reranker={"model": str(run_dir / "train" / "reranker" / "model"), "depth": 4, "fusion_weight": weight},
    )
    assert reranked["ndcg_at_10"] == pytest.approx(run_eval(test, progress=False).metrics["ndcg_at_10"])


def _corpus_only_run(data: Path, run_dir: Path, train_queries: str, **values) -> tuple[dict, list[str]]:
    """``synthret run`` on a corpus without labels, as a user runs it (SyCL when it generates its queries,
    Promptagator on queries generated before); (summary, stdout lines)."""
    from sentence_transformers import SentenceTransformer

    if train_queries == "generate":
        trained, settings = (
            "listwise",
            {
                "synthesis": {
                    "queries": {"sampling": {"max_new_tokens": 24}},
                    "graded": {"levels": [3, 1, 0], "sampling": {"max_new_tokens": 40}},
                },
                "training": {
                    "listwise": {
                        "optim": {"epochs": 1, "batch_size": 2, "max_seq_length": 64},
                        "group": {"listwise_size": 3},
                    }
                },
            },
        )
    else:
        trained, settings = (
            "pairs",
            {
                "recipe": "promptagator",
                "synthesis": {},
                "training": {"pairs": {"optim": {"epochs": 1, "batch_size": 4, "max_seq_length": 64}}},
            },
        )
    cfg = recipe(data, run_dir, train_queries=train_queries, dev_split=None, **settings, **values)
    config_file = run_dir.parent / f"{run_dir.name}.yaml"
    config_file.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_unset=True)))
    done = run_synthret("run", "--config", str(config_file), "-q", env={**os.environ, "RAY_ADDRESS": "local"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["evaluation"] == {"systems": {}, "scored": False}
    said = [line for line in done.stdout.splitlines() if "has no labelled test split" in line]
    assert len(said) == 1 and said[0].endswith(f"{trained}: {run_dir / 'train' / trained / 'model'}")
    model = SentenceTransformer(str(run_dir / "train" / trained / "model"), device="cpu")
    assert model.encode(["os.getcwd"]).shape == (1, 384)
    assert "No labelled test split was scored." in (run_dir / "report.html").read_text()
    return summary, done.stdout.splitlines()


@pytest.mark.slow
def test_a_recipe_runs_whole_on_a_parquet_corpus_then_on_a_beir_corpus_without_labels(tmp_path):
    """A user's path (the corpus-only issue): a folder of parquet files with their own column names and no queries
    or qrels (queries are generated, the student is trained and exported, nothing is scored and the run says so);
    then a BEIR folder holding only corpus.jsonl, the Promptagator recipe trained on the queries the first run
    generated (a queries run folder as train_queries, as benchmarks/quality.py reuses them) and their passages."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pydocs = REPO / "synthret_ray" / "resources" / "pydocs" / "corpus.jsonl"
    docs = [json.loads(line) for line in pydocs.read_text().splitlines()[:24]]
    parquet = tmp_path / "parquet"
    parquet.mkdir()
    for part in range(2):  # two files: a folder of them is one corpus
        half = docs[part::2]
        table = {"doc_id": [d["_id"] for d in half], "body": [d["text"] for d in half]}
        pq.write_table(pa.table({**table, "heading": [d["title"] for d in half]}), parquet / f"part-{part}.parquet")
    run_dir = tmp_path / "run"
    columns = {"id": "doc_id", "text": "body", "title": "heading"}
    summary, _ = _corpus_only_run(parquet, run_dir, "generate", corpus_columns=columns)
    assert list(summary["stages"]) == ["corpus", "queries", "split", "graded", "listwise"]
    assert summary["stages"]["corpus"]["documents"] == 24
    imported = {json.loads(line)["_id"] for line in (run_dir / "corpus" / "corpus.jsonl").read_text().splitlines()}
    assert imported == {d["_id"] for d in docs}
    # every training and dev query was written by the teacher from one of these passages
    written = {json.loads(line)["_id"] for line in (run_dir / "queries" / "export" / "queries.jsonl").open()}
    for side in ("train", "dev"):
        ids = {json.loads(line)["_id"] for line in (run_dir / "split" / side / "queries.jsonl").open()}
        assert ids and ids <= written

    beir = tmp_path / "beir"
    beir.mkdir()
    (beir / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    beir_run = tmp_path / "beir_run"
    summary, _ = _corpus_only_run(beir, beir_run, str(run_dir / "queries"))
    assert list(summary["stages"]) == ["split", "pairs"]  # read where it is: no import stage
    split = summary["stages"]["split"]
    assert split["train_queries"] + split["dev_queries"] == len(written)
    # one (query, source passage) row per training query, the passage's full text from the corpus
    pairs = pq.read_table(beir_run / "pairs" / "pairs.parquet").to_pylist()
    assert len(pairs) == summary["stages"]["pairs"]["rows"] == split["train_queries"]
    texts = {f"{d['title']} {d['text']}".strip() for d in docs}
    assert all(p["positive"] in texts and p["negatives"] == [] for p in pairs)


def test_the_runs_encode_and_index_reach_every_dense_retrieval_and_stay_out_of_hashes_at_defaults(tmp_path):
    """One encoder setting per run (the encoding issue): the test evaluation, dev evaluation, prefer's stage-1
    candidates, label's first-stage candidates, the round-trip filter and the fusion stage's first stage."""
    from synthret_ray.pipeline.runner import RecipeRun

    encode = {"batch_size": 16, "ray_min_docs": 0, "num_actors": 2}
    synthesis = {"queries": {"filters": {"round_trip": {"retriever": "dense", "model": "minilm"}}}}
    values = {"recipe": "syntriever", "train_queries": "generate", "synthesis": synthesis, "training": {}}
    run = RecipeRun(recipe(tmp_path, tmp_path / "r", **values, encode=encode, index={"kind": "hnsw"}))
    dense = run.dense("m")  # what the evaluate stage scores each model with
    assert (dense["model"], dense["encode"]["batch_size"], dense["index"]["kind"]) == ("m", 16, "hnsw")
    assert run.cfg.encoding()["encode"]["num_actors"] == 2 and run.cfg.encoding()["index"]["kind"] == "hnsw"
    prefer = run.query_task("prefer", candidates={**run.dense("stage1"), "k": 5}).candidates
    assert prefer.encode.batch_size == 16 and prefer.encode.ray_min_docs == 0 and prefer.index.kind == "hnsw"
    assert run.train_config("stage1", "t.parquet", "minilm").eval.batch_size == 16
    reranker = RecipeRun(
        recipe(
            tmp_path,
            tmp_path / "r2",
            recipe="reranker",
            encode=encode,
            first_stage={"retriever": "dense", "model": "minilm"},
            synthesis={},
            training={},
        )  # fmt: skip
    )
    assert reranker.label_config().candidates.encode.num_actors == 2
    assert reranker.train_config("reranker", "t.parquet", "minilm").eval.first_stage.encode.num_actors == 2
    # at the defaults, nothing new enters a stage's hash
    plain = RecipeRun(recipe(tmp_path, tmp_path / "r3", **values))
    assert plain.cfg.encoding() == {} and plain.dense("m") == {"retriever": "dense", "model": "m"}
    with pytest.raises(ConfigError, match="first_stage.encode: set the run's encode once, at the top level"):
        first_stage = {"retriever": "dense", "model": "m", "encode": encode}
        load_config(RecipeConfig, base={**values, "recipe": "reranker", "data": "d", "run_dir": "r",
                                        "first_stage": first_stage})  # fmt: skip


def test_a_synthesis_folder_with_the_same_fingerprint_survives_a_change_of_an_earlier_stage(tmp_path):
    """More passages change the queries stage's hash and, by the chain, every later stage's; a synthesis folder
    whose rows the new config would make again is resumed (its finished units are not asked again), not deleted."""
    from synthret_ray.pipeline.runner import RecipeRun
    from synthret_ray.synthesis.store import RunStore

    def queries_config(**values):
        run = RecipeRun(recipe(tmp_path, tmp_path / "r", train_queries="generate", **values), log=lambda _: None)
        return run, run.synthesis_config("queries", input={"data": str(tmp_path), "limit": run.cfg.passages})

    first, queries = queries_config(passages=5)
    assert not RunStore(queries.output_dir).holds_rows_of(queries)  # nothing there yet
    RunStore(queries.output_dir).claim(queries)
    shard = Path(queries.output_dir) / "shards" / "part-0.parquet"
    shard.parent.mkdir()
    shard.write_bytes(b"rows")
    first.synthesis_stage("queries", queries, lambda: {"rows": 5})
    grown, more = queries_config(passages=7)
    assert RunStore(more.output_dir).holds_rows_of(more) and more.relevant() != queries.relevant()
    ran = grown.synthesis_stage("queries", more, lambda: {"rows": 7})
    assert ran["rows"] == 7 and shard.exists()  # the stage ran again over the kept rows
    _, other = queries_config(passages=7, teacher={"kind": "vllm", "model": "qwen-coder-0.5b"})
    assert not RunStore(other.output_dir).holds_rows_of(other)
    grown.synthesis_stage("queries", other, lambda: {"rows": 0})
    assert not shard.exists()  # other rows: cleared


def test_the_judge_check_is_a_report_that_no_later_stage_hash_depends_on(tmp_path):
    """Turning the judge check on or off, or changing its size, redoes nothing else of a run."""
    from synthret_ray.pipeline.runner import RecipeRun

    reranker = {"recipe": "reranker", "synthesis": {}, "training": {}}
    run = RecipeRun(recipe(tmp_path, tmp_path / "r", **reranker), log=lambda line: None)
    asked = []

    def synthesize(name, cfg, export_file):
        asked.append((name, cfg.judge_check.model_dump(), cfg.output_dir, export_file))
        run.chain = "changed by the stage"
        return {"judge": {"pairs": {"judged": 1}, "accuracy": 1.0, "auc_judged_vs_top_ranked": None,
                          "auc_judged_vs_random": 1.0}}  # fmt: skip

    run.synthesize = synthesize
    run.chain = "before"
    run.judge_check("label", run.label_config())
    assert run.chain == "before"
    assert asked == [
        (
            "judge_check_label",
            {"data": str(tmp_path / "r" / "split" / "dev"), "split": "dev", "queries": 50, "seed": 0},
            str(tmp_path / "r" / "judge_check" / "label"),
            "judge_check.parquet",
        )
    ]
    off = RecipeRun(recipe(tmp_path, tmp_path / "r", **reranker, judge_check_queries=None))
    off.synthesize = synthesize
    off.judge_check("label", off.label_config())
    assert len(asked) == 1
