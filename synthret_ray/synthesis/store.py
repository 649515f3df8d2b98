"""A synthesis run folder (local or s3://): what is on disk, and how rows get there.

  config.yaml    the resolved config, with its fingerprint (a folder is only resumed by the same config)
  shards/        part-*.parquet, each written whole (temporary name, then renamed), so a kill loses at most
                 the rows not yet flushed, and never leaves half a file behind
  stats.json     counts and speeds (see pipeline.py)
  export/        the training files made from the kept rows

A unit whose row is already in a shard with a final status (ok, malformed, filtered) is not asked again;
rows with ``status=error`` (engine failures) are retried by the next run, and the newest row of an id wins.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from synthret_ray.config import ConfigError
from synthret_ray.data import fs
from synthret_ray.data.beir import DataFormatError

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


class RunStore:
    def __init__(self, root: str):
        self.root = root.rstrip("/")
        self.shards = fs.join(self.root, "shards")
        self.export_dir = fs.join(self.root, "export")
        self.filesystem, self._root_path = fs.resolve(self.root)

    def path(self, *parts: str) -> str:
        return fs.join(self.root, *parts)

    def _local(self, uri: str) -> str:
        return fs.resolve(uri)[1]

    def claim(self, config: dict[str, Any], fingerprint: str) -> None:
        """Record the config, or refuse a folder holding rows made with a different one."""
        self.filesystem.create_dir(self._local(self.shards), recursive=True)
        config_path = self.path("config.yaml")
        if fs.exists(config_path):
            with self.filesystem.open_input_stream(self._local(config_path)) as f:
                previous = yaml.safe_load(f.read().decode("utf-8")) or {}
            if previous.get("fingerprint") != fingerprint and self.shard_files():
                raise ConfigError(
                    f"output_dir {self.root} holds rows of a different config (fingerprint "
                    f"{previous.get('fingerprint')} vs {fingerprint}); use a new output_dir, or delete that folder "
                    "to start over"
                )
        text = yaml.safe_dump({"fingerprint": fingerprint, **config}, sort_keys=False)
        self.write_bytes(config_path, text.encode("utf-8"))

    def write_bytes(self, uri: str, data: bytes) -> None:
        local = self._local(uri)
        self.filesystem.create_dir(local.rsplit("/", 1)[0], recursive=True)
        tmp = f"{local}.tmp-{os.getpid()}"
        with self.filesystem.open_output_stream(tmp) as f:
            f.write(data)
        self.filesystem.move(tmp, local)

    def shard_files(self) -> list[str]:
        if not fs.exists(self.shards):
            return []
        return [fs.join(self.shards, n) for n in fs.list_files(self.shards, ".parquet")]

    def read_rows(self) -> list[dict[str, Any]]:
        """Every row of every shard; the newest row of an id wins, a final status over an error."""
        latest: dict[str, dict[str, Any]] = {}
        for shard in self.shard_files():
            try:
                rows = pq.read_table(self._local(shard), filesystem=self.filesystem).to_pylist()
            except (pa.ArrowInvalid, OSError) as exc:
                raise DataFormatError(
                    shard, None, None, f"unreadable shard ({exc}); move it away to regenerate its rows"
                ) from None
            for row in rows:
                old = latest.get(row["id"])
                if old is None or row["status"] in FINAL or old["status"] not in FINAL:
                    latest[row["id"]] = row
        return list(latest.values())

    def kept_rows(self) -> list[dict[str, Any]]:
        return [row for row in self.read_rows() if row["status"] == "ok"]

    def write_shard(self, rows: list[dict[str, Any]], schema: pa.Schema, seq: int) -> str:
        table = pa.Table.from_pylist(rows, schema=schema)
        name = f"part-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{seq:05d}.parquet"
        final = self._local(fs.join(self.shards, name))
        tmp = f"{final}.tmp"
        pq.write_table(table, tmp, filesystem=self.filesystem)
        self.filesystem.move(tmp, final)
        return final
