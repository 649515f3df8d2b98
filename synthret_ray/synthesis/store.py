"""A synthesis run folder (local or s3://): what is on disk, and how rows get there.

  config.yaml    the resolved config, with its fingerprint (a folder is only resumed by the same config)
  shards/        part-*.parquet, each written whole (temporary name, then a move), so a kill loses at most
                 the rows not yet flushed, and never leaves half a file behind
  stats.json     counts and speeds (see pipeline.py); each shard's footer also records the call that wrote it and
                 that call's seconds and CPU- or GPU-hours so far, so a resumed stage's totals keep a killed call's
                 cost
  export/        the training files made from the kept rows

A unit whose row is already in a shard with a final status (ok, malformed, filtered) is not asked again;
rows with ``status=error`` (engine failures) are retried by the next run, and the newest row of an id wins.
"""

from __future__ import annotations

import io
import json
import os
import time
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from synthret_ray.config import ConfigError
from synthret_ray.data import fs
from synthret_ray.data.beir import DataFormatError

if TYPE_CHECKING:
    from synthret_ray.synthesis.config import SynthesisConfig

COMMON_COLUMNS: dict[str, pa.DataType] = {
    "id": pa.string(),
    "task": pa.string(),
    "status": pa.string(),
    "reason": pa.string(),
    "notes": pa.list_(pa.string()),
    "raw": pa.string(),  # JSON object: part -> generated text, kept for every row (malformed ones included)
    "prompt_tokens": pa.int64(),
    "completion_tokens": pa.int64(),
    "engine_seconds": pa.float64(),
    "truncated_prompt": pa.bool_(),
    "worker": pa.string(),
    "engine": pa.string(),
    "model": pa.string(),
    "prompt_version": pa.string(),
    "sampling": pa.string(),  # JSON of the sampling parameters
    "seed": pa.int64(),
    "created_at": pa.string(),  # ISO 8601, UTC
}
FINAL = ("ok", "malformed", "filtered")
CALL_KEY = b"synthret.call"  # shard footer: {"call": id, "seconds": ..., "<resource>_hours": ...} at its writing


class RunStore:
    def __init__(self, root: str):
        self.root = root.rstrip("/")
        self.shards = fs.join(self.root, "shards")

    def path(self, *parts: str) -> str:
        return fs.join(self.root, *parts)

    def stored_config(self) -> dict[str, Any] | None:
        """The config (with its ``fingerprint``) this folder's rows were made with; None for a folder never
        claimed."""
        config_path = self.path("config.yaml")
        if not fs.exists(config_path):
            return None
        return yaml.safe_load(fs.read_bytes(config_path).decode("utf-8")) or {}

    def holds_rows_of(self, cfg: SynthesisConfig) -> bool:
        """Whether this folder holds rows ``cfg`` would make again (``SynthesisConfig.makes_rows_of``): resumed,
        and kept by a recipe whose stage hash changed with an earlier stage."""
        stored = self.stored_config()
        return stored is not None and cfg.makes_rows_of(stored)

    def claim(self, cfg: SynthesisConfig) -> None:
        """Record the config, or refuse a folder holding rows made with a different one."""
        stored = self.stored_config()
        if stored is not None and self.shard_files() and not self.holds_rows_of(cfg):
            raise ConfigError(
                f"output_dir {self.root} holds rows of a different config (fingerprint {stored.get('fingerprint')} "
                f"vs {cfg.fingerprint()}); use a new output_dir, or delete that folder to start over"
            )
        text = yaml.safe_dump({"fingerprint": cfg.fingerprint(), **cfg.model_dump(mode="json")}, sort_keys=False)
        fs.write_bytes(self.path("config.yaml"), text.encode("utf-8"))

    def shard_files(self) -> list[str]:
        if not fs.exists(self.shards):
            return []
        return [fs.join(self.shards, n) for n in fs.list_files(self.shards, ".parquet")]

    def read_rows(self) -> list[dict[str, Any]]:
        """Every row of every shard; the newest row of an id wins, a final status over an error."""
        latest: dict[str, dict[str, Any]] = {}
        for shard in self.shard_files():
            try:
                rows = pq.read_table(io.BytesIO(fs.read_bytes(shard))).to_pylist()
            except (pa.ArrowInvalid, OSError) as exc:
                raise DataFormatError(
                    shard, None, None, f"unreadable shard ({exc}); move it away to regenerate its rows"
                ) from None
            for row in rows:
                old = latest.get(row["id"])
                if old is None or row["status"] in FINAL or old["status"] not in FINAL:
                    latest[row["id"]] = row
        return list(latest.values())

    def call_costs(self) -> tuple[dict[str, dict[str, Any]], int]:
        """What each call that wrote shards had spent when it wrote its last one (seconds, resource hours), from
        the shards' footers, and the number of shards that record none (written before calls were recorded)."""
        calls: dict[str, dict[str, Any]] = {}
        unrecorded = 0
        for shard in self.shard_files():
            filesystem, path = fs.resolve(shard)
            raw = (pq.read_metadata(path, filesystem=filesystem).metadata or {}).get(CALL_KEY)
            if raw is None:
                unrecorded += 1
                continue
            call = json.loads(raw)
            if call["seconds"] >= calls.get(call["call"], {}).get("seconds", -1.0):
                calls[call["call"]] = call
        return calls, unrecorded

    def kept_rows(self) -> list[dict[str, Any]]:
        return [row for row in self.read_rows() if row["status"] == "ok"]

    def write_shard(
        self, rows: list[dict[str, Any]], schema: pa.Schema, seq: int, call: dict[str, Any] | None = None
    ) -> str:
        buffer = io.BytesIO()
        if call is not None:
            schema = schema.with_metadata({**(schema.metadata or {}), CALL_KEY: json.dumps(call).encode("utf-8")})
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), buffer)
        path = fs.join(self.shards, f"part-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{seq:05d}.parquet")
        fs.write_bytes(path, buffer.getvalue())
        return path
