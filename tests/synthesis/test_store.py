"""The run folder's record of what each call spent, kept in its shards' footers."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa

from synthret_ray.synthesis.config import SynthesisConfig
from synthret_ray.synthesis.pipeline import RunStats
from synthret_ray.synthesis.queries import QueriesTask
from synthret_ray.synthesis.store import COMMON_COLUMNS, RunStore


def _row(i: int, completion_tokens: int) -> dict:
    return {"id": f"u{i}", "status": "ok", "prompt_tokens": 100, "completion_tokens": completion_tokens}


def test_a_stage_costs_every_call_that_wrote_its_shards_and_this_one(tmp_path):
    """Pins that a resumed (or killed, then resumed) stage reports the cost of all its calls: a call's seconds and
    hours are the latest its shards recorded, shards of older versions are counted apart, and this call adds its
    own final figures (before, stats.json and the recipes' summaries held the last call's alone)."""
    store = RunStore(str(tmp_path))
    schema = pa.schema({**COMMON_COLUMNS, **QueriesTask.columns})
    store.write_shard([_row(0, 7)], schema, 0, {"call": "a", "seconds": 10.0, "actor_cpu_hours": 0.002})
    store.write_shard([_row(1, 5)], schema, 1, {"call": "a", "seconds": 25.0, "actor_cpu_hours": 0.005})
    store.write_shard([_row(2, 3)], schema, 2, {"call": "b", "seconds": 7.0, "actor_cpu_hours": 0.001})
    store.write_shard([_row(3, 2)], schema, 3)  # written before calls were recorded
    calls, unrecorded = store.call_costs()
    assert calls == {
        "a": {"call": "a", "seconds": 25.0, "actor_cpu_hours": 0.005},
        "b": {"call": "b", "seconds": 7.0, "actor_cpu_hours": 0.001},
    }
    assert unrecorded == 1
    assert len(store.read_rows()) == 4  # the footers change no row

    cfg = SynthesisConfig(task="queries", input={"data": "d"}, output_dir=str(tmp_path))
    stats = RunStats(started=100.0, finished=136.0)  # this call: 36 s on one vLLM replica of one CPU
    folder = stats.summary(cfg, store.read_rows(), Counter(), (calls, unrecorded))["run_folder"]
    assert (folder["calls"], folder["shards_without_call_record"]) == (3, 1)
    assert folder["wall_seconds"] == 25.0 + 7.0 + 36.0
    assert folder["actor_cpu_hours"] == round(0.005 + 0.001 + 36.0 / 3600, 5)
    assert (folder["prompt_tokens"], folder["generated_tokens"]) == (400, 7 + 5 + 3 + 2)
