"""Ray Train end to end: 2-worker DDP with dev evaluation and export; a killed driver resumes when rerun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from synthret_ray.config import load_config
from synthret_ray.training.config import TrainConfig
from synthret_ray.training.trainer import train
from tests.conftest import REPO, SYNTHRET


@pytest.mark.slow
def test_two_worker_ddp_with_dev_eval_exports_the_best_checkpoint(
    stage_file, dev_beir, tmp_path, ray_local, monkeypatch
):
    """Also pins that the data paths may be relative to where `synthret train` runs: Ray Train's workers run in a
    folder of their own (the dev split was "file not found" there)."""
    from sentence_transformers import SentenceTransformer

    from synthret_ray.evaluation import EvalConfig, run_eval

    train_data, dev_beir = stage_file("distill").relative_to(tmp_path), dev_beir.relative_to(tmp_path)
    monkeypatch.chdir(tmp_path)
    cfg = load_config(
        TrainConfig,
        None,
        [
            "stage=distill",
            f"train_data={train_data}",
            f"output_dir={tmp_path / 'runs'}",
            "run_name=ddp",
            "optim.batch_size=2",
            "optim.epochs=2",
            "optim.max_seq_length=64",
            "scaling.num_workers=2",
            "scaling.cpus_per_worker=0.5",
            f"eval.data={dev_beir}",
            "checkpoint.num_to_keep=1",
        ],
    )
    result = train(cfg)
    assert result.rows == 8 and result.export_dir == str(tmp_path / "runs" / "ddp" / "model")
    # 8 rows / (2 per worker x 2 workers) = 2 steps per epoch; step 0 is the starting model (eval.at_start)
    scored = [h for h in result.history if h.get("ndcg_at_10") is not None]
    # the start (step 0) to the last step: 8 rows / (2 per worker x 2 workers) x 2 epochs = 4
    assert scored[0]["step"] == 0 and scored[-1]["step"] == 4
    best = max(h["ndcg_at_10"] for h in scored)
    # the export is the best dev checkpoint, the later one on a tie
    assert result.best_metrics["step"] == max(h["step"] for h in scored if h["ndcg_at_10"] == best)
    assert all(h["loss"] > 0 for h in result.history if "loss" in h)
    assert SentenceTransformer(str(result.export_dir)).encode(["x"]).shape == (1, 384)
    summary = json.loads((Path(result.export_dir) / "synthret_train_summary.json").read_text())
    assert summary["best"]["ndcg_at_10"] == result.best_metrics["ndcg_at_10"]
    evaluated = run_eval(
        EvalConfig(data=str(dev_beir), split="dev", retriever="dense", model=str(result.export_dir)), progress=False
    )
    assert evaluated.metrics["ndcg_at_10"] == pytest.approx(result.best_metrics["ndcg_at_10"], abs=1e-6)


def _registered_checkpoints(run_dir: Path) -> int:
    """Checkpoints Ray Train has registered (a folder can exist before the controller records it; only a
    registered one is resumed from)."""
    from ray.train.v2._internal.constants import CHECKPOINT_MANAGER_SNAPSHOT_FILENAME

    try:
        snapshot = json.loads((run_dir / CHECKPOINT_MANAGER_SNAPSHOT_FILENAME).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return 0
    return len(snapshot.get("checkpoint_results", []))


@pytest.mark.slow
def test_killed_driver_resumes_from_its_last_checkpoint(stage_file, tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "stage": "pairs",
                "train_data": str(stage_file("pairs")),
                "output_dir": str(tmp_path / "runs"),
                "run_name": "resume",
                "optim": {"batch_size": 2, "epochs": 1, "max_seq_length": 32},
                "checkpoint": {"every_n_steps": 1, "num_to_keep": 2},
                "scaling": {"cpus_per_worker": 1},
            }
        )
    )
    command = [*SYNTHRET, "train", "--config", str(config)]
    env = {**os.environ, "RAY_ADDRESS": "local"}
    run_dir = tmp_path / "runs" / "resume"
    first = subprocess.Popen(
        command, cwd=REPO, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 300
    while _registered_checkpoints(run_dir) < 1 and time.time() < deadline and first.poll() is None:
        time.sleep(0.5)
    os.killpg(first.pid, signal.SIGKILL)  # the driver and the local Ray cluster it started
    first.wait()
    assert _registered_checkpoints(run_dir) >= 1, "no checkpoint was registered before the kill"

    second = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    summary = json.loads((run_dir / "model" / "synthret_train_summary.json").read_text())
    steps = [m["step"] for m in summary["kept_checkpoints"]]
    assert steps == [3, 4]  # 8 rows / batch 2 = 4 steps, one epoch
    assert all(m["resumed_from_step"] >= 1 for m in summary["kept_checkpoints"])


def _pairs_config(stage_file, tmp_path, run_name: str, *extra: str) -> TrainConfig:
    base = [f"train_data={stage_file('pairs')}", f"output_dir={tmp_path / 'runs'}", f"run_name={run_name}"]
    return load_config(TrainConfig, None, ["stage=pairs", *base, "optim.max_seq_length=32", *extra])


@pytest.mark.slow
def test_deepspeed_zero1_on_two_cpu_workers(stage_file, tmp_path, ray_local):
    from sentence_transformers import SentenceTransformer

    cfg = _pairs_config(
        stage_file,
        tmp_path,
        "zero1",
        "strategy=deepspeed",
        "deepspeed.zero_stage=1",
        "optim.batch_size=2",
        "scaling.num_workers=2",
        "scaling.cpus_per_worker=0.5",
    )
    result = train(cfg)
    assert result.best_metrics["step"] == 2 and result.best_metrics["loss"] > 0
    assert SentenceTransformer(str(result.export_dir)).encode(["x"]).shape == (1, 384)
    engine_files = list((tmp_path / "runs" / "zero1").glob("checkpoint_*/deepspeed/engine/*optim_states.pt"))
    assert len(engine_files) == 2  # ZeRO-1: one optimizer-state shard per worker


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_worker_holding_every_cpu_still_gets_its_data(stage_file, tmp_path, ray_local):
    # Streaming read tasks would wait forever for a CPU here; the driver reads the data up front instead.
    cfg = _pairs_config(stage_file, tmp_path, "full", "optim.batch_size=4", "scaling.cpus_per_worker=2")
    assert train(cfg).best_metrics["step"] == 2
