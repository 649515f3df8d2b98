"""``synthesize(cfg)``: units -> prompts -> LLM engine actors (Ray Data) -> parsed, filtered rows -> parquet shards.

  driver      builds the units (passages, queries, candidates) and drops the ones already in the run folder
  Ray Data    from_items(units) -> flat_map(one row per prompt) -> engine: Ray's vLLM processor (ray.data.llm,
              the default) or an actor pool of openai / local engines (map_batches); actors that die are
              restarted and their rows retried
  driver      gathers the parts of each unit, parses and filters them, writes shards every ``shard_rows`` rows,
              shows progress, then writes stats.json and the training files under export/

The driver only sees small completion rows; generation, the heavy part, runs in the actors.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pyarrow as pa

from synthret_ray.data import fs
from synthret_ray.engines import (
    ChatRequest,
    Completion,
    EngineConfig,
    LocalEngineConfig,
    SamplingParams,
    VLLMEngineConfig,
    build_engine,
    check_engine,
)
from synthret_ray.synthesis.config import SynthesisConfig
from synthret_ray.synthesis.distill import DistillTask
from synthret_ray.synthesis.graded import GradedTask
from synthret_ray.synthesis.judge_check import JudgeCheckTask
from synthret_ray.synthesis.label import LabelTask
from synthret_ray.synthesis.prefer import PreferTask
from synthret_ray.synthesis.queries import QueriesTask
from synthret_ray.synthesis.store import COMMON_COLUMNS, FINAL, RunStore
from synthret_ray.synthesis.task import Task
from synthret_ray.synthesis.verify import VerifyTask

TASK_CLASSES: dict[str, type[Task]] = {
    t.name: t for t in (QueriesTask, DistillTask, VerifyTask, GradedTask, LabelTask, PreferTask)
}
FLUSH_SECONDS = 30.0


def make_task(cfg: SynthesisConfig) -> Task:
    return JudgeCheckTask(cfg) if cfg.judge_check else TASK_CLASSES[cfg.task](cfg)


def sampling_for(cfg: SynthesisConfig, task: Task) -> SamplingParams:
    s = cfg.sampling
    return SamplingParams(
        max_new_tokens=s.max_new_tokens or task.max_new_tokens, temperature=s.temperature, top_p=s.top_p, seed=s.seed
    )


class PromptRows:
    """Ray Data ``flat_map``: one unit -> one row per prompt (part), carrying the unit as JSON."""

    def __init__(self, task: Task):
        self.task = task

    def __call__(self, unit: dict[str, Any]) -> list[dict[str, Any]]:
        unit = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in unit.items()}
        parts = self.task.parts(unit)
        sample = int(unit.get("sample") or 0)
        return [
            {
                "unit_id": unit["id"],
                "part": part.key,
                "n_parts": len(parts),
                "unit": json.dumps(unit, ensure_ascii=False),
                "messages": part.messages,
                "choices": list(part.choices or ()),
                "seed_offset": sample,
            }
            for part in parts
        ]


class EngineActor:
    """Ray Data ``map_batches`` callable holding one local or openai engine; a batch in, its completions out.
    An exception inside the engine becomes an error on each row of the batch (counted, retried on rerun)."""

    def __init__(self, engine_json: str, sampling_json: str, threads: int | None):
        from pydantic import TypeAdapter

        cfg = TypeAdapter(EngineConfig).validate_json(engine_json)
        self.engine = build_engine(cfg, threads)
        self.sampling = SamplingParams.model_validate_json(sampling_json)
        self.worker = f"{self.engine.name}@{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        n = len(batch["unit_id"])
        requests = []
        for i in range(n):
            sampling = self.sampling
            if self.engine.per_request_seed and batch["seed_offset"][i]:
                sampling = sampling.model_copy(update={"seed": sampling.seed + int(batch["seed_offset"][i])})
            choices = tuple(str(c) for c in batch["choices"][i]) or None
            requests.append(ChatRequest([dict(m) for m in batch["messages"][i]], sampling, choices))
        try:
            completions = self.engine.generate(requests)
        except Exception as exc:  # noqa: BLE001 - a failing batch is recorded, not fatal; see docstring
            completions = [Completion("", error=f"{type(exc).__name__}: {exc}") for _ in range(n)]
        finished_at = time.time()
        return {
            "unit_id": batch["unit_id"],
            "part": batch["part"],
            "n_parts": batch["n_parts"],
            "unit": batch["unit"],
            "text": [c.text for c in completions],
            "prompt_tokens": [c.prompt_tokens for c in completions],
            "completion_tokens": [c.completion_tokens for c in completions],
            "seconds": [c.seconds for c in completions],
            "error": [c.error or "" for c in completions],
            "truncated": [c.truncated_prompt for c in completions],
            "choice_probs": [json.dumps(c.choice_probs) if c.choice_probs else "" for c in completions],
            "worker": [self.worker] * n,
            "finished_at": [finished_at] * n,
        }


def default_threads(num_actors: int) -> int:
    return max(1, (os.cpu_count() or 1) // num_actors)


def engine_device(cfg: SynthesisConfig) -> str:
    engine = cfg.engine
    if isinstance(engine, VLLMEngineConfig):
        from synthret_ray.engines.vllm import resolve_device

        return resolve_device(engine)
    if isinstance(engine, LocalEngineConfig):
        return "gpu" if engine.gpus_per_actor else "cpu"
    return "remote"


def engine_stage(ds, cfg: SynthesisConfig, sampling: SamplingParams):
    """Completion rows for the prompt rows of ``ds``, through the configured engine."""
    import ray.data

    engine = cfg.engine
    if isinstance(engine, VLLMEngineConfig):
        from synthret_ray.engines.vllm import build_vllm_processor

        return build_vllm_processor(engine, sampling)(ds)
    # Ray Data restarts a dead pool actor (max_restarts=-1 by default) and re-submits its unfinished blocks.
    remote_args: dict[str, Any] = {"num_cpus": engine.cpus_per_actor}
    if isinstance(engine, LocalEngineConfig) and engine.gpus_per_actor:
        remote_args["num_gpus"] = engine.gpus_per_actor
    return ds.map_batches(
        EngineActor,
        fn_constructor_kwargs={
            "engine_json": engine.model_dump_json(),
            "sampling_json": sampling.model_dump_json(),
            "threads": default_threads(engine.num_actors) if isinstance(engine, LocalEngineConfig) else None,
        },
        batch_size=engine.batch_size,
        compute=ray.data.ActorPoolStrategy(size=engine.num_actors),
        **remote_args,
    )


@dataclass
class RunStats:
    """Counts and speeds of one call; ``summary`` adds the totals of the whole run folder."""

    units: int = 0
    already_done: int = 0
    call: str = field(default_factory=lambda: uuid.uuid4().hex[:12])  # this call, in the shards it writes
    written: int = 0
    statuses: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    truncated_prompts: int = 0
    workers: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None
    device: str = "cpu"  # where the engine runs: cpu, gpu, or remote (an endpoint)
    # Wall-clock times (engines report theirs from other processes): when the engine stage was launched, the
    # earliest start of a request that got an answer (the engine was up by then), the last answer.
    launched_at: float | None = None
    ready_at: float | None = None
    last_at: float | None = None

    def add(self, row: dict[str, Any], parts: list[dict[str, Any]]) -> None:
        self.written += 1
        self.statuses[row["status"]] += 1
        if row["reason"]:
            self.reasons[f"{row['status']}: {_reason_key(row['reason'])}"] += 1
        for note in row["notes"] or []:
            self.reasons[f"note: {note}"] += 1
        for part in parts:
            self.prompt_tokens += int(part["prompt_tokens"])
            self.completion_tokens += int(part["completion_tokens"])
            self.truncated_prompts += bool(part["truncated"])
            worker = self.workers[part["worker"]]
            worker["requests"] += 1
            worker["generated_tokens"] += int(part["completion_tokens"])
            finished_at = float(part.get("finished_at") or 0.0)
            if finished_at and not part["error"]:
                started = finished_at - float(part["seconds"])
                self.ready_at = started if self.ready_at is None else min(self.ready_at, started)
                self.last_at = finished_at if self.last_at is None else max(self.last_at, finished_at)

    def cost(self, cfg: SynthesisConfig) -> dict[str, Any]:
        """This call's seconds and resource hours so far, as recorded in each shard it writes."""
        wall = (self.finished or time.perf_counter()) - self.started
        return {"call": self.call, "seconds": round(wall, 3), **_resource_hours(cfg, wall, self.device)}

    def summary(
        self,
        cfg: SynthesisConfig,
        total_rows: list[dict[str, Any]],
        notes: Counter,
        calls: tuple[dict[str, dict[str, Any]], int],
    ) -> dict[str, Any]:
        """``calls``: the earlier calls' costs recorded in the run folder's shards (``RunStore.call_costs``)."""
        wall = (self.finished or time.perf_counter()) - self.started
        per_worker = {
            name: {"requests": int(c["requests"]), "generated_tokens": int(c["generated_tokens"])}
            for name, c in self.workers.items()
        }
        all_status = Counter(row["status"] for row in total_rows)
        n = max(1, len(total_rows))
        costs, unrecorded = calls
        costs = {**costs, self.call: self.cost(cfg)}  # this call's own final figures, not its last shard's
        hours = Counter()
        for cost in costs.values():
            hours.update({k: v for k, v in cost.items() if k.endswith("_hours")})
        return {
            "task": cfg.task,
            "engine": cfg.engine.kind,
            "model": cfg.engine.model,
            "this_run": {
                "units": self.units,
                "already_done": self.already_done,
                "rows_written": self.written,
                "statuses": dict(self.statuses),
                "wall_seconds": round(wall, 3),
                "rows_per_s": round(self.written / wall, 4) if wall else None,
                "prompt_tokens": self.prompt_tokens,
                "generated_tokens": self.completion_tokens,
                "prompt_tokens_per_s": round(self.prompt_tokens / wall, 3) if wall else None,
                "generated_tokens_per_s": round(self.completion_tokens / wall, 3) if wall else None,
                "truncated_prompts": self.truncated_prompts,
                "reasons": dict(self.reasons.most_common()),
                "workers": per_worker,
                "engine": self.engine_summary(cfg),
                **_resource_hours(cfg, wall, self.device),
            },
            "run_folder": {
                "rows": len(total_rows),
                "statuses": dict(all_status),
                "malformed_rate": round(all_status["malformed"] / n, 4),
                "filtered_rate": round(all_status["filtered"] / n, 4),
                "error_rate": round(all_status["error"] / n, 4),
                # every call's tokens and time, a killed one's up to its last shard: the stage's whole cost
                "calls": len(costs),
                **({"shards_without_call_record": unrecorded} if unrecorded else {}),
                "prompt_tokens": sum(int(r["prompt_tokens"]) for r in total_rows),
                "generated_tokens": sum(int(r["completion_tokens"]) for r in total_rows),
                "wall_seconds": round(sum(c["seconds"] for c in costs.values()), 3),
                **{k: round(v, 5) for k, v in hours.items()},
                "reasons": dict(
                    Counter(
                        f"{r['status']}: {_reason_key(r['reason'])}" for r in total_rows if r["reason"]
                    ).most_common()
                ),
            },
            "input": dict(notes),
        }

    def engine_summary(self, cfg: SynthesisConfig) -> dict[str, Any]:
        """Start-up apart from generation, and generation speed per replica and per CPU or GPU it holds."""
        replicas, unit, per_replica = _engine_resources(cfg, self.device)
        out: dict[str, Any] = {"device": self.device, "replicas": replicas, f"{unit}s_per_replica": per_replica}
        if self.launched_at is None or self.ready_at is None or self.last_at is None:
            return out  # nothing was generated in this call
        generation = max(self.last_at - self.ready_at, 1e-9)
        speed = self.completion_tokens / generation
        return {
            **out,
            "startup_seconds": round(max(0.0, self.ready_at - self.launched_at), 3),
            "generation_seconds": round(generation, 3),
            "generated_tokens_per_s": round(speed, 3),
            "prompt_tokens_per_s": round(self.prompt_tokens / generation, 3),
            "generated_tokens_per_s_per_replica": round(speed / replicas, 3),
            f"generated_tokens_per_s_per_{unit}": round(speed / (replicas * per_replica), 3),
        }


def _engine_resources(cfg: SynthesisConfig, device: str) -> tuple[int, str, float]:
    """(replicas, the resource that bounds each, how many of it each holds): GPUs where there are, else the Ray
    CPUs reserved (an endpoint's client actors hold CPUs; the server's hardware is not known here)."""
    engine = cfg.engine
    if isinstance(engine, VLLMEngineConfig):
        if device == "gpu":
            return engine.concurrency, "gpu", float(engine.tensor_parallel_size)
        return engine.concurrency, "cpu", engine.cpus_per_replica * engine.tensor_parallel_size
    if isinstance(engine, LocalEngineConfig) and engine.gpus_per_actor:
        return engine.num_actors, "gpu", engine.gpus_per_actor
    return engine.num_actors, "cpu", engine.cpus_per_actor


def _reason_key(reason: str) -> str:
    """Group reasons by their kind: engine error texts differ per row, their first words do not."""
    return reason if len(reason) <= 60 else reason[:60] + "..."


def _resource_hours(cfg: SynthesisConfig, wall: float, device: str) -> dict[str, float]:
    replicas, unit, per_replica = _engine_resources(cfg, device)
    return {f"{'gpu' if unit == 'gpu' else 'actor_cpu'}_hours": round(wall * replicas * per_replica / 3600, 5)}


class Assembler:
    """Collects the parts of each unit as they arrive (in any order) and turns complete units into rows."""

    def __init__(self, task: Task, cfg: SynthesisConfig, sampling: SamplingParams, seen: set[str]):
        self.task, self.cfg, self.seen = task, cfg, seen
        self.pending: dict[str, dict[str, dict[str, Any]]] = {}
        self.provenance = {
            "task": cfg.task,
            "engine": cfg.engine.kind,
            "model": cfg.engine.model,
            "prompt_version": task.prompt_version,
            "sampling": sampling.model_dump_json(),
            "seed": sampling.seed,
        }

    def add(self, part: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        parts = self.pending.setdefault(part["unit_id"], {})
        parts[part["part"]] = part
        if len(parts) < int(part["n_parts"]):
            return None
        del self.pending[part["unit_id"]]
        unit = json.loads(part["unit"])
        return self.row(unit, list(parts.values())), list(parts.values())

    def row(self, unit: dict[str, Any], parts: list[dict[str, Any]], skipped: str | None = None) -> dict[str, Any]:
        texts = {p["part"]: p["text"] for p in parts}
        errors = [f"{p['part']}: {p['error']}" for p in parts if p["error"]]
        if skipped:
            status, reason, fields, notes = "filtered", skipped, {}, []
        elif errors:
            status, reason, fields, notes = "error", errors[0], {}, []
        else:
            probs = {p["part"]: json.loads(p["choice_probs"]) for p in parts if p.get("choice_probs")}
            outcome = self.task.assemble(unit, texts, probs)
            status, reason, fields, notes = outcome.status, outcome.reason, outcome.fields, outcome.notes
            key = self.task.dedupe_key(fields) if status == "ok" else None
            if key is not None:
                if key in self.seen:
                    status, reason = "filtered", "duplicate"
                self.seen.add(key)
        row = {
            **{k: unit.get(k) for k in self.task.columns},
            **fields,
            "id": unit["id"],
            "status": status,
            "reason": reason,
            "notes": notes,
            "raw": json.dumps(texts, ensure_ascii=False),
            "prompt_tokens": sum(int(p["prompt_tokens"]) for p in parts),
            "completion_tokens": sum(int(p["completion_tokens"]) for p in parts),
            "engine_seconds": sum(float(p["seconds"]) for p in parts),
            "truncated_prompt": any(bool(p["truncated"]) for p in parts),
            "worker": ",".join(sorted({p["worker"] for p in parts})),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **self.provenance,
        }
        return row


@dataclass
class SynthesisResult:
    output_dir: str
    stats: dict[str, Any]
    exported: dict[str, int]


def synthesize(cfg: SynthesisConfig) -> SynthesisResult:
    """Run (or resume) ``cfg`` into ``cfg.output_dir``; see the module docstring."""
    from synthret_ray.synthesis.export import export_run
    from synthret_ray.synthesis.inputs import build_units

    task = make_task(cfg)
    check_engine(cfg.engine)
    units, notes = build_units(cfg, task, progress=cfg.progress)  # bad input fails before the run folder exists
    store = RunStore(cfg.output_dir)
    store.claim(cfg)
    existing = store.read_rows()
    done = {row["id"] for row in existing if row["status"] in FINAL}
    seen = {k for row in existing if row["status"] == "ok" and (k := task.dedupe_key(row)) is not None}
    todo = [u for u in units if u["id"] not in done]
    sampling = sampling_for(cfg, task)
    stats = RunStats(units=len(units), already_done=len(units) - len(todo))
    assembler = Assembler(task, cfg, sampling, seen)
    schema = pa.schema({**COMMON_COLUMNS, **task.columns})
    writer = ShardWriter(store, schema, cfg.shard_rows, lambda: stats.cost(cfg))

    ready = [u for u in todo if not task.skip_reason(u)]
    try:  # whatever stops the loop, the rows already assembled reach a shard
        for unit in todo:
            if reason := task.skip_reason(unit):
                row = assembler.row(unit, [], skipped=reason)
                stats.add(row, [])
                writer.add(row)
        if ready:
            _generate(ready, task, cfg, sampling, assembler, stats, writer)
    finally:
        writer.close()
    stats.finished = time.perf_counter()
    rows = store.read_rows()
    # Export exactly this config's units: a folder can also hold rows of units that no longer exist (a
    # re-trained stage-1 model at the same path ranks other candidates, so those units get other ids).
    unit_ids = {u["id"] for u in units}
    exported, export_notes = export_run(cfg, task, store, [r for r in rows if r["id"] in unit_ids])
    summary = stats.summary(cfg, rows, notes, store.call_costs())
    summary["export"] = {"files": exported, **export_notes}
    fs.write_bytes(store.path("stats.json"), json.dumps(summary, indent=2).encode("utf-8"))
    return SynthesisResult(store.root, summary, exported)


def _generate(
    ready: list[dict[str, Any]],
    task: Task,
    cfg: SynthesisConfig,
    sampling: SamplingParams,
    assembler: Assembler,
    stats: RunStats,
    writer: ShardWriter,
) -> None:
    import ray

    if not ray.is_initialized():
        ray.init()
    # ours is the one that counts units; Ray Data's bars redraw with carriage returns, so only in a terminal
    ray.data.DataContext.get_current().enable_progress_bars = cfg.progress and sys.stderr.isatty()
    ds = ray.data.from_items(ready, override_num_blocks=_blocks(len(ready), cfg))
    ds = ds.flat_map(PromptRows(task), num_cpus=0.1)  # prompt building is light: leave CPUs to the engines
    stats.device = engine_device(cfg)
    stats.launched_at = time.time()
    ds = engine_stage(ds, cfg, sampling)
    bar = _progress(len(ready), cfg)
    for part in ds.iter_rows():
        done_row = assembler.add(_normalized(part))
        if done_row is None:
            continue
        row, parts = done_row
        stats.add(row, parts)
        writer.add(row)
        if bar is not None:
            bar.update(1)
            wall = time.perf_counter() - stats.started
            bar.set_postfix(
                tok_s=f"{stats.completion_tokens / wall:.1f}",
                ok=stats.statuses["ok"],
                bad=stats.statuses["malformed"] + stats.statuses["error"],
                refresh=False,
            )
    if bar is not None:
        bar.close()


def _blocks(n: int, cfg: SynthesisConfig) -> int:
    # Enough blocks to keep every actor busy and to stream results back while the rest still runs.
    actors = getattr(cfg.engine, "num_actors", None) or getattr(cfg.engine, "concurrency", 1)
    return max(1, min(n, max(4 * actors, n // max(1, cfg.engine.batch_size))))


def _normalized(part: dict[str, Any]) -> dict[str, Any]:
    """Rows that Ray's vLLM processor failed bypass its postprocess: give them the completion columns. In a block
    that also holds answered rows they come with those columns empty (None), so the error marks them."""
    if part.get("__inference_error__") or part.get("text") is None:
        part = {
            **part,
            "text": "",
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "seconds": 0.0,
            "error": str(part.get("__inference_error__") or "inference failed"),
            "truncated": False,
            "worker": "vllm",
            "finished_at": 0.0,
            "choice_probs": "",
        }
    return part


def _progress(total: int, cfg: SynthesisConfig):
    """A tqdm bar in a terminal; when stderr is a file (a log, `ray job` output), a line every minute instead of
    a carriage-return bar rewritten thousands of times."""
    if not cfg.progress:
        return None
    if not sys.stderr.isatty():
        return LineProgress(total, f"synthesize {cfg.task}")
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"synthesize {cfg.task}", unit="unit")


class LineProgress:
    """tqdm's ``update`` / ``set_postfix`` / ``close`` as one plain line per ``interval`` seconds, and at the end."""

    def __init__(self, total: int, desc: str, interval: float = 60.0, stream=None):
        self.total, self.desc, self.interval, self.stream = total, desc, interval, stream
        self.done, self.postfix = 0, ""
        self.started = self.last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.done += n
        if time.monotonic() - self.last >= self.interval:
            self._line()

    def set_postfix(self, refresh: bool = False, **values: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        self._line()

    def _line(self) -> None:
        self.last = time.monotonic()
        rate = self.done / max(self.last - self.started, 1e-9)
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        extra = f", {self.postfix}" if self.postfix else ""
        stream = self.stream or sys.stderr
        print(
            f"{self.desc}: {self.done}/{self.total} units{share}, {rate:.2f} units/s{extra}", file=stream, flush=True
        )


class ShardWriter:
    """Buffers rows and writes a shard every ``shard_rows`` rows or ``FLUSH_SECONDS``, whichever comes first."""

    def __init__(
        self, store: RunStore, schema: pa.Schema, shard_rows: int, call: Callable[[], dict[str, Any]] | None = None
    ):
        self.store, self.schema, self.shard_rows, self.call = store, schema, shard_rows, call
        self.buffer: list[dict[str, Any]] = []
        self.seq = 0
        self.last_flush = time.monotonic()

    def add(self, row: dict[str, Any]) -> None:
        self.buffer.append(row)
        if len(self.buffer) >= self.shard_rows or time.monotonic() - self.last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.store.write_shard(self.buffer, self.schema, self.seq, self.call() if self.call else None)
            self.seq += 1
            self.buffer = []
        self.last_flush = time.monotonic()

    def close(self) -> None:
        self.flush()
