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


def materialize_gguf(folder: str, gguf_file: str, dtype: str = "float32") -> Path:
    """A plain transformers folder for ``folder/gguf_file`` with weights in ``dtype``, converted on first use and
    cached by content stamp. bfloat16 halves a 1.5B model's folder (3.4 instead of 7 GB) and is what vLLM's CPU
    build computes in; a 4-bit checkpoint loses nothing it had."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = Path(folder) / gguf_file
    stat = source.stat()
    key = f"{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}" + ("" if dtype == "float32" else f":{dtype}")
    stamp = hashlib.sha1(key.encode()).hexdigest()[:16]
    target = cache_root() / "gguf" / f"{source.stem}-{stamp}"
    if (target / "config.json").is_file():
        return target
    torch_dtype = getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch_dtype)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    # save_pretrained refuses a GGUF-loaded model: rebuild it from its config without the quantization entry.
    config = model.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.dtype = torch_dtype  # what from_config builds in, and what config.json then says
    plain = AutoModelForCausalLM.from_config(config).to(torch_dtype)
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
    from synthret_ray.models.resolve import PACKAGED_MODELS, resolve_model

    resolved = resolve_model(name)
    if not resolved.gguf_file:
        return resolved.source
    dtype = PACKAGED_MODELS[name].convert_dtype if resolved.origin == "packaged" else "float32"
    return str(materialize_gguf(resolved.source, resolved.gguf_file, dtype))
