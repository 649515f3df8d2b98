"""Typed configuration: pydantic models, YAML loading and dotted ``key=value`` overrides."""

from __future__ import annotations

from synthret_ray.config.base import (
    ConfigError,
    StrictModel,
    check_key,
    dump_config,
    load_config,
    parse_overrides,
    set_dotted,
)

__all__ = ["ConfigError", "StrictModel", "check_key", "dump_config", "load_config", "parse_overrides", "set_dotted"]
