"""Config loading shared by every command: YAML file, then dotted overrides, then pydantic validation.

Every problem is collected before raising, and each message names the dotted key, the value received
and what is allowed, e.g. ``retriever: input should be 'bm25' or 'dense', got 'bm52'``.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration that cannot be used; the message lists every problem found."""


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors and loaded configs are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# Field(json_schema_extra=HASH_WHEN_SET): an option added after runs were made. At its default it stays out of the
# hashes that decide whether a stage or a synthesis run resumes, so those runs resume after an upgrade.
HASH_WHEN_SET = {"hash_when_set": True}


def hashed(model: BaseModel) -> dict[str, Any]:
    """``model.model_dump(mode="json")`` without the ``HASH_WHEN_SET`` fields that hold their default, at any
    depth: what a run's identity is hashed from."""
    dumped = model.model_dump(mode="json")
    _drop_unset_options(model, dumped)
    return dumped


def _drop_unset_options(model: BaseModel, dumped: dict[str, Any]) -> None:
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if extra.get("hash_when_set") and value == info.get_default(call_default_factory=True):
            dumped.pop(name, None)
        elif isinstance(value, BaseModel) and isinstance(dumped.get(name), dict):
            _drop_unset_options(value, dumped[name])


def _submodels(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside an annotation such as ``Foo``, ``Foo | None`` or a union ``A | B`` (the
    variants of a discriminated union such as ``engine``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _submodels(arg)]


def check_key(model: type[BaseModel], dotted: str) -> None:
    """Reject an override key that no field of ``model`` has, listing the valid keys at that level."""
    current: list[type[BaseModel]] = [model]
    parts = dotted.split(".")
    for depth, part in enumerate(parts):
        if not current:  # a free-form dict field: any sub-key is accepted
            return
        fields = {name: info for variant in current for name, info in variant.model_fields.items()}
        if part not in fields:
            where = ".".join(parts[:depth]) or "the top level"
            raise ConfigError(
                f"unknown config key {dotted!r}: {part!r} is not a field of {where}; "
                f"valid keys there: {sorted(fields)}"
            )
        current = [
            m
            for variant in current
            if part in variant.model_fields
            for m in _submodels(variant.model_fields[part].annotation)
        ]


def parse_overrides(overrides: list[str]) -> list[tuple[str, Any]]:
    """Parse ``a.b=value`` strings; values are read as YAML scalars, so ``3``, ``true``, ``[1, 2]`` are typed."""
    parsed = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form key.sub=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {key}: cannot parse value {raw!r}: {exc}") from exc
        parsed.append((key, value))
    return parsed


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _field_path(model: type[BaseModel], loc: tuple) -> tuple[list[str], type[BaseModel]]:
    """Pydantic's error location without the tags of discriminated unions (``engine.openai.base_url`` is
    reported as ``engine.base_url``), and the model that holds the last part."""
    key, parent, variants = [], model, None
    for part in (str(p) for p in loc):
        if variants:
            tagged = [v for v in variants if v.model_fields.get("kind") and v.model_fields["kind"].default == part]
            if tagged:
                parent, variants = tagged[0], None
                continue
        key.append(part)
        field = parent.model_fields.get(part)
        subs = _submodels(field.annotation) if field is not None else []
        if subs:
            parent, variants = subs[0], subs if len(subs) > 1 else None
    return key, parent


def format_validation_error(exc: ValidationError, model: type[BaseModel], source: str) -> str:
    lines = [f"invalid config ({source}): {exc.error_count()} problem(s)"]
    for err in exc.errors():
        parts, _ = _field_path(model, err["loc"])
        key = ".".join(parts) or "<root>"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            _, parent = _field_path(model, err["loc"][:-1])
            msg = f"unknown key; valid keys there: {sorted(parent.model_fields)}"
        elif "input" in err and not isinstance(err["input"], dict):
            msg = f"{msg}, got {err['input']!r}"
        lines.append(f"  - {key}: {msg}")
    return "\n".join(lines)


def load_config(
    model: type[M],
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    base: dict | None = None,
    values: dict[str, Any] | None = None,
) -> M:
    """Build ``model`` from ``base``, then the YAML file at ``path``, then ``values`` (typed dotted keys, e.g.
    from command-line flags), then the dotted ``key=value`` strings of ``overrides``; later ones win."""
    tree: dict[str, Any] = dict(base or {})
    source = "command line"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level, got {type(loaded).__name__}")
        for key, value in loaded.items():
            set_dotted(tree, key, value)
        source = str(path)
    for key, value in [*(values or {}).items(), *parse_overrides(overrides or [])]:
        check_key(model, key)
        set_dotted(tree, key, value)
    try:
        return model.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, model, source)) from None


def dump_config(config: BaseModel, path: str | Path) -> None:
    """Write the resolved config as YAML, so that ``--config`` on that file reproduces the run."""
    Path(path).write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
