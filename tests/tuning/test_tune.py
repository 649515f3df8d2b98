"""`synthret tune`: Ray Tune (Optuna + ASHA) launching a Ray Train TorchTrainer per trial, on CPU."""

from __future__ import annotations

import pytest
import yaml

from synthret_ray.config import ConfigError, load_config
from synthret_ray.training.config import TrainConfig, absolute_paths
from synthret_ray.tuning import TuneConfig, tune
from synthret_ray.tuning.tuner import trial_config
from tests.training.conftest import dev_beir, stage_file  # noqa: F401 - fixtures


def tune_values(train_data, dev, out) -> dict:
    return {
        "train": {
            "stage": "pairs",
            "train_data": str(train_data),
            "eval": {"data": str(dev), "split": "dev", "batch_size": 8},
            "optim": {"epochs": 1, "batch_size": 2, "max_seq_length": 32},
            "scaling": {"cpus_per_worker": 0.25},  # 3 concurrent trials on 2 CPUs, 1 CPU left for reads
        },
        "search_space": {
            "optim.lr": {"type": "loguniform", "low": 1e-6, "high": 1e-3},
            "loss.temperature": {"type": "uniform", "low": 0.02, "high": 0.1},
        },
        "num_samples": 2,
        "max_concurrent_trials": 2,
        "output_dir": str(out),
    }


@pytest.mark.slow
def test_two_concurrent_tiny_trials_with_optuna_and_asha(ray_local, stage_file, dev_beir, tmp_path, monkeypatch):  # noqa: F811
    """Also pins that paths relative to where `synthret tune` runs reach the trials, which Tune runs in folders of
    their own (they failed with "file not found")."""
    monkeypatch.chdir(tmp_path)
    relative = tune_values(stage_file("pairs").relative_to(tmp_path), dev_beir.relative_to(tmp_path), "tune")
    cfg = TuneConfig.model_validate(relative)
    result = tune(cfg)
    assert len(result.trials) == 2
    best_trial = max(result.trials, key=lambda t: t["ndcg_at_10"])  # the winner, found here, not by the tuner's sort
    assert result.best_metrics["ndcg_at_10"] == best_trial["ndcg_at_10"]
    assert result.best_params["optim.lr"] == best_trial["config/optim.lr"]
    assert len({t["config/optim.lr"] for t in result.trials}) == 2  # Optuna proposed two different rates
    best = load_config(TrainConfig, result.best_config_path)
    assert best.optim.lr == result.best_params["optim.lr"]
    assert best.loss.temperature == result.best_params["loss.temperature"]
    assert (tmp_path / "tune" / "trials.csv").read_text().count("\n") == 3


@pytest.mark.slow
def test_a_search_whose_every_trial_fails_says_why(ray_local, dev_beir, tmp_path):  # noqa: F811
    values = tune_values(tmp_path / "missing.parquet", dev_beir, tmp_path / "tune")
    values["num_samples"] = 1
    failed = (
        r"every trial of the search failed; the first: DataFormatError: .*missing\.parquet: training data not found"
    )
    with pytest.raises(RuntimeError, match=failed):
        tune(TuneConfig.model_validate(values))


def test_relative_local_paths_become_absolute_and_model_names_stay(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.parquet").write_bytes(b"")
    (tmp_path / "dev").mkdir()
    train = TrainConfig(
        stage="align",
        train_data="train.parquet",
        model="minilm",
        reference_model="s3://b/stage1",
        eval={"data": "dev"},
    )
    tree = absolute_paths(train)
    assert (tree["train_data"], tree["eval"]["data"]) == (str(tmp_path / "train.parquet"), str(tmp_path / "dev"))
    assert (tree["model"], tree["reference_model"]) == ("minilm", "s3://b/stage1")  # a packaged name, a remote URI


def test_search_space_keys_and_dev_data_are_checked(tmp_path):
    values = tune_values("x.parquet", tmp_path, tmp_path / "t")
    values["search_space"]["optim.learning_rate"] = {"type": "uniform", "low": 0, "high": 1}
    with pytest.raises(ValueError, match="search_space.optim.learning_rate: unknown config key"):
        TuneConfig.model_validate(values)
    values = tune_values("x.parquet", tmp_path, tmp_path / "t")
    values["train"]["eval"] = {}
    with pytest.raises(ValueError, match="train.eval.data: tuning needs dev queries"):
        TuneConfig.model_validate(values)
    values = tune_values("x.parquet", tmp_path, tmp_path / "t")
    values["search_space"]["optim.lr"] = {"type": "loguniform", "low": 0, "high": 1}
    with pytest.raises(ValueError, match="loguniform needs low > 0"):
        TuneConfig.model_validate(values)
    values = tune_values("x.parquet", tmp_path, tmp_path / "t")
    values["search_space"]["loss.temperature"] = {"type": "grid", "values": [0.05, 0.1]}
    with pytest.raises(ValueError, match="search_space.loss.temperature: type grid .* set search=random"):
        TuneConfig.model_validate(values)
    TuneConfig.model_validate({**values, "search": "random"})


def test_trial_config_sets_dotted_keys_in_its_own_folder(tmp_path):
    base = TrainConfig(stage="align", train_data="a.parquet").model_dump(mode="json")
    cfg = trial_config(base, {"loss.regularization": 0.3, "optim.batch_size": 16}, str(tmp_path), "t1")
    assert (cfg.loss.regularization, cfg.optim.batch_size, cfg.run_name) == (0.3, 16, "t1")
    assert cfg.output_dir == str(tmp_path / "trials")


def test_shipped_tune_configs_validate():
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[2] / "configs" / "tune").glob("*.yaml")):
        assert path.read_text().startswith("#")
        cfg = load_config(TuneConfig, path)
        assert yaml.safe_load(path.read_text())["search_space"].keys() == cfg.search_space.keys()
    with pytest.raises(ConfigError):
        load_config(TuneConfig, None, ["num_samples=0"])


def test_a_grid_gives_one_trial_per_value():
    # Ray Tune's own variant generator (what search=random runs) expands the grid: every lambda once, in order
    from ray.tune.search.variant_generator import generate_variants

    from synthret_ray.tuning.config import Distribution
    from synthret_ray.tuning.tuner import _domain

    space = {"loss.regularization": _domain(Distribution(type="grid", values=[0.0, 0.1, 1.0]))}
    assert [config["loss.regularization"] for _, config in generate_variants(space)] == [0.0, 0.1, 1.0]
