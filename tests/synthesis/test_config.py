from __future__ import annotations

import pytest
import yaml

from synthret_ray.config import ConfigError


def test_fingerprint_ignores_fields_the_task_never_reads():
    from synthret_ray.synthesis.config import SynthesisConfig

    def config(task, **extra):
        queries = {} if task == "queries" else {"queries": "train"}
        return SynthesisConfig(task=task, input={"data": "d", **queries}, output_dir="o", **extra)

    # distill's negatives and graded's levels do not touch a queries run, nor a label run's candidates
    assert config("queries").fingerprint() == config("queries", negatives=5, levels=[3, 0]).fingerprint()
    assert config("distill").fingerprint() == config("distill", candidates={"k": 3}).fingerprint()
    # the fields the task reads do
    assert config("distill").fingerprint() != config("distill", negatives=5).fingerprint()
    assert config("label").fingerprint() != config("label", candidates={"k": 3}).fingerprint()
    assert "negatives" not in config("queries").relevant() and "negatives" in config("distill").relevant()


def test_which_units_and_how_candidates_are_encoded_leave_the_fingerprint():
    """A run folder is a cache of rows per unit: a larger seeded sample of passages, or another batch size or
    actor pool for the candidates' encoder, reuses it; a run made when the sample was hashed is taken over."""
    from synthret_ray.config import hashed
    from synthret_ray.synthesis.config import SynthesisConfig

    def config(task="queries", **extra):
        queries = {} if task == "queries" else {"queries": "train"}
        limit = extra.pop("limit", None)
        return SynthesisConfig(task=task, input={"data": "d", "limit": limit, **queries}, output_dir="o", **extra)

    assert config(limit=1300).fingerprint() == config(limit=1400).fingerprint() == config().fingerprint()
    prefer = config("prefer", candidates={"retriever": "dense", "model": "m"})
    resources = {"batch_size": 8, "num_actors": 4, "ray_min_docs": 0, "device": "cpu", "cache": False}
    assert prefer.fingerprint() == config("prefer", candidates={"retriever": "dense", "model": "m",
                                          "encode": resources, "index": {"device": "cpu"}}).fingerprint()  # fmt: skip
    for changed in ({"encode": {"max_seq_length": 64}}, {"index": {"kind": "hnsw"}}):  # other candidates come out
        other = config("prefer", candidates={"retriever": "dense", "model": "m", **changed})
        assert other.fingerprint() != prefer.fingerprint()
    # options at their defaults stay out of the stage hash: runs made before they existed keep theirs
    assert "encode" not in hashed(prefer)["candidates"] and "index" not in prefer.relevant()["candidates"]
    assert hashed(other)["candidates"]["index"]["kind"] == "hnsw"


def test_a_folder_stamped_by_an_earlier_version_is_resumed_when_its_config_makes_the_same_rows(tmp_path):
    """Folders made before the sample left the fingerprint carry a hash of their limit: their stored config,
    hashed by today's rules, decides (a run at 1,300 passages grows to 1,400); another config is refused."""
    from synthret_ray.synthesis.config import SynthesisConfig
    from synthret_ray.synthesis.store import RunStore

    def config(**input_values):
        return SynthesisConfig(task="queries", input={"data": "d", **input_values}, output_dir=str(tmp_path))

    earlier = {"fingerprint": "26e3cb36a0c7880b", **config(limit=1300).model_dump(mode="json")}  # an old stamp
    grown = config(limit=1400)
    assert grown.makes_rows_of(earlier) and config(limit=1300, sample_seed=3).makes_rows_of(earlier)
    other = SynthesisConfig(task="queries", input={"data": "d"}, output_dir="o", sampling={"temperature": 0.7})
    assert not other.makes_rows_of(earlier)
    assert not grown.makes_rows_of({**earlier, "fingerprint": "x", "bogus_field": 1})  # unreadable: not the same

    store = RunStore(str(tmp_path))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(earlier))  # what the earlier version wrote
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "part-0.parquet").write_bytes(b"")
    assert store.holds_rows_of(grown) and not store.holds_rows_of(other)
    store.claim(grown)  # taken over
    assert store.stored_config()["fingerprint"] == grown.fingerprint()
    with pytest.raises(ConfigError, match="holds rows of a different config"):
        store.claim(other)
