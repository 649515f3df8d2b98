"""GGUF checkpoints (the packaged teachers) as plain transformers folders that vLLM and transformers load fast.

vLLM's CPU build has no GGUF loader, and transformers dequantizes a GGUF file on every load (about 20 s for the
135M model): both load the folder this writes once under the cache instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from synthret_ray.cache import cache_root


def materialize_gguf(folder: str, gguf_file: str) -> Path:
    """A plain transformers folder for ``folder/gguf_file``, converted on first use and cached by content stamp."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = Path(folder) / gguf_file
    stat = source.stat()
    stamp = hashlib.sha1(f"{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = cache_root() / "gguf" / f"{source.stem}-{stamp}"
    if (target / "config.json").is_file():
        return target
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    # save_pretrained refuses a GGUF-loaded model: rebuild it from its config without the quantization entry.
    config = model.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict())
    # A unique partial folder: two processes converting at once must not write into the same one.
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    plain.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    try:
        os.replace(partial, target)
    except OSError:  # another process finished first: its folder is the same conversion
        shutil.rmtree(partial, ignore_errors=True)
    return target


def causal_lm_folder(name: str) -> str:
    """What an engine loads for ``name``: the converted folder of a GGUF model, else the resolved source."""
    from synthret_ray.models.resolve import resolve_model

    resolved = resolve_model(name)
    return str(materialize_gguf(resolved.source, resolved.gguf_file)) if resolved.gguf_file else resolved.source
