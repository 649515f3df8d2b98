"""Typed configuration: pydantic models, YAML loading and dotted ``key=value`` overrides."""

from __future__ import annotations

from synthret_ray.config.base import (
    HASH_WHEN_SET,
    ConfigError,
    StrictModel,
    check_key,
    dump_config,
    hashed,
    load_config,
    parse_overrides,
    set_dotted,
)

__all__ = [
    "HASH_WHEN_SET",
    "ConfigError",
    "StrictModel",
    "check_key",
    "dump_config",
    "hashed",
    "load_config",
    "parse_overrides",
    "set_dotted",
]
