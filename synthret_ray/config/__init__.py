"""Typed configuration: pydantic models, YAML loading and dotted ``key=value`` overrides."""

from __future__ import annotations

from synthret_ray.config.base import ConfigError, StrictModel, dump_config, load_config, parse_overrides

__all__ = ["ConfigError", "StrictModel", "dump_config", "load_config", "parse_overrides"]
