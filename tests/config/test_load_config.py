from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from synthret_ray.config import ConfigError, dump_config, load_config
from synthret_ray.evaluation.config import EvalConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_overrides_are_typed_and_win_over_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: /x\nretriever: dense\nmodel: minilm\nencode:\n  batch_size: 8\n")
    cfg = load_config(EvalConfig, path, ["encode.batch_size=128", "index.kind=hnsw", "ignore_identical_ids=false"])
    assert cfg.encode.batch_size == 128 and isinstance(cfg.encode.batch_size, int)
    assert cfg.index.kind == "hnsw"
    assert cfg.ignore_identical_ids is False
    assert cfg.model == "minilm"


def test_flag_values_sit_between_file_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: /x\nsplit: dev\n")
    cfg = load_config(EvalConfig, path, ["split=train"], values={"split": "test", "data": "/y"})
    assert (cfg.split, cfg.data) == ("train", "/y")


def test_unknown_override_key_names_key_and_valid_keys():
    with pytest.raises(ConfigError, match=r"'encode.batchsize'.*valid keys there: \[.*'batch_size'"):
        load_config(EvalConfig, None, ["data=/x", "encode.batchsize=3"])


def test_unknown_key_in_file_names_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: /x\nindex:\n  knd: flat\n")
    with pytest.raises(ConfigError, match=r"index\.knd: unknown key; valid keys there: \[.*'kind'"):
        load_config(EvalConfig, path)


def test_wrong_type_names_key_and_value():
    with pytest.raises(ConfigError, match=r"encode\.batch_size: .*integer.*got 'many'"):
        load_config(EvalConfig, None, ["data=/x", "encode.batch_size=many"])


def test_all_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as info:
        load_config(EvalConfig, None, ["data=/x", "retriever=bm52", "index.nprobe=0"])
    assert "retriever" in str(info.value) and "index.nprobe" in str(info.value)
    assert "2 problem(s)" in str(info.value)


def test_cross_field_rules():
    with pytest.raises(ConfigError, match="model: required when retriever=dense"):
        load_config(EvalConfig, None, ["data=/x", "retriever=dense"])
    with pytest.raises(ConfigError, match="top_k: must be >= 100"):
        load_config(EvalConfig, None, ["data=/x", "top_k=10"])
    with pytest.raises(ConfigError, match=r"reranker\.depth: 200 exceeds top_k=100"):
        load_config(EvalConfig, None, ["data=/x", "reranker.model=m", "reranker.depth=200"])
    with pytest.raises(ConfigError, match=r"reranker\.model: Field required"):
        load_config(EvalConfig, None, ["data=/x", "reranker.depth=10"])


def test_a_rerankers_first_stage_is_checked_where_it_is_set():
    from synthret_ray.pipeline import RecipeConfig
    from synthret_ray.training.config import TrainConfig

    recipe = ["data=/x", "run_dir=/r"]
    with pytest.raises(ConfigError, match=r"first_stage: .*model is required when retriever=dense"):
        load_config(RecipeConfig, None, [*recipe, "recipe=reranker", "first_stage.retriever=dense"])
    with pytest.raises(ConfigError, match=r"first_stage: .*model 'minilm' has no effect with retriever=bm25"):
        load_config(RecipeConfig, None, [*recipe, "recipe=reranker", "first_stage.model=minilm"])
    dense = ["first_stage.retriever=dense", "first_stage.model=minilm"]
    with pytest.raises(ConfigError, match="first_stage: only the reranker recipe reranks a first stage, not sycl"):
        load_config(RecipeConfig, None, [*recipe, "recipe=sycl", *dense])
    cfg = load_config(RecipeConfig, None, [*recipe, "recipe=reranker", *dense])
    assert (cfg.first_stage.retriever, cfg.first_stage.model, cfg.first_stage.label) == (
        "dense",
        "minilm",
        "dense minilm",
    )
    train = ["train_data=/t.parquet", "eval.first_stage.retriever=dense", "eval.first_stage.model=minilm"]
    with pytest.raises(ConfigError, match="eval.first_stage: only the reranker stage reranks a first stage on dev"):
        load_config(TrainConfig, None, [*train, "stage=listwise"])
    assert load_config(TrainConfig, None, [*train, "stage=reranker"]).eval.first_stage.model == "minilm"


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*nope.yaml"):
        load_config(EvalConfig, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml is not valid YAML"):
        load_config(EvalConfig, bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(EvalConfig, listy)


def test_malformed_override():
    with pytest.raises(ConfigError, match="not of the form key.sub=value"):
        load_config(EvalConfig, None, ["data"])


def test_configs_are_frozen():
    cfg = load_config(EvalConfig, None, ["data=/x"])
    with pytest.raises(Exception, match="frozen"):
        cfg.split = "dev"


def test_dumped_config_round_trips(tmp_path):
    cfg = load_config(EvalConfig, None, ["data=/x", "retriever=dense", "model=minilm", "reranker.model=ce"])
    dump_config(cfg, tmp_path / "r.yaml")
    assert load_config(EvalConfig, tmp_path / "r.yaml") == cfg


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("eval/*.yaml")), ids=lambda p: p.name)
def test_shipped_eval_configs_validate(path):
    text = path.read_text()
    assert text.startswith("#"), "every shipped config starts with a header comment"
    raw = yaml.safe_load(text)
    load_config(EvalConfig, path, base={"data": "/placeholder"} if "data" not in raw else None)


def test_there_are_shipped_eval_configs():
    assert len(list(CONFIGS.glob("eval/*.yaml"))) >= 3


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("train/*.yaml")), ids=lambda p: p.name)
def test_shipped_train_configs_validate(path):
    from synthret_ray.training.config import TrainConfig

    assert path.read_text().startswith("#")
    cfg = load_config(TrainConfig, path)
    assert path.name.startswith(cfg.stage), "a training recipe's file name starts with its stage"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("synthesis/*.yaml")), ids=lambda p: p.name)
def test_shipped_synthesis_configs_validate(path):
    from synthret_ray.synthesis.config import SynthesisConfig

    assert path.read_text().startswith("#")
    cfg = load_config(SynthesisConfig, path)
    assert path.name.startswith(cfg.task), "a synthesis recipe's file name starts with its task"
    # <task>_cpu: CPU-sized, on the default engine (vLLM, its CPU build here); else the name ends with the engine
    assert path.stem.endswith(cfg.engine.kind) or (path.stem.endswith("_cpu") and cfg.engine.kind == "vllm")


def test_there_are_synthesis_configs_for_every_task():
    from synthret_ray.synthesis.config import TASKS

    names = [p.name for p in CONFIGS.glob("synthesis/*.yaml")]
    assert all(any(n.startswith(task) for n in names) for task in TASKS)


def test_train_config_rules():
    from synthret_ray.training.config import TrainConfig

    base = ["train_data=x.parquet"]
    with pytest.raises(ConfigError, match=r"loss\.name: 'wasserstein' does not fit stage=distill"):
        load_config(TrainConfig, None, [*base, "stage=distill", "loss.name=wasserstein"])
    with pytest.raises(ConfigError, match="eval.split: 'test' is eval.test_split, which must never select"):
        load_config(TrainConfig, None, [*base, "stage=pairs", "eval.split=test"])
    # the guard follows the dataset's test split, not the name `test`
    with pytest.raises(ConfigError, match="eval.split: 'dl20' is eval.test_split"):
        load_config(TrainConfig, None, [*base, "stage=pairs", "eval.split=dl20", "eval.test_split=dl20"])
    with pytest.raises(ConfigError, match="loss.regularization: only partial_plackett_luce"):
        load_config(TrainConfig, None, [*base, "stage=distill", "loss.regularization=0.1"])
    with pytest.raises(ConfigError, match="precision: fp16 needs GPUs"):
        load_config(TrainConfig, None, [*base, "stage=pairs", "precision=fp16"])
    cfg = load_config(TrainConfig, None, [*base, "stage=listwise"])
    assert cfg.loss_name == "wasserstein"
