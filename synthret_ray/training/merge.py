"""Weight-space interpolation of a fine-tuned bi-encoder with the model it started from.

    theta = (1 - w) * theta_start + w * theta_tuned,   0 <= w <= 1

WiSE-FT (Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022) showed that the interpolated model
keeps most of the fine-tuned model's gain on the fine-tuning distribution and loses less of the start model's
quality elsewhere; LM-Cocktail (Xiao et al., 2023) does the same for embedding models. Here the fine-tuning
distribution is the teacher's queries, and the test queries are another distribution: the dev split, built from
the teacher's queries too, cannot choose ``w`` (it favours ``w = 1``), so ``w`` is set before any test number
(the papers' default is 0.5).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch

MERGE_FILE = "synthret_merge.json"


def interpolate_state(start: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor], weight: float) -> dict:
    """The interpolated state dict; both must hold the same keys and shapes (else a ``ValueError`` naming the
    first that differs). Tensors that are not floating point (e.g. position ids) must be equal and are kept."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"merge weight must be in [0, 1], got {weight}")
    missing, extra = sorted(set(tuned) - set(start)), sorted(set(start) - set(tuned))
    if missing or extra:
        raise ValueError(
            "the start model and the tuned model have different parameters "
            f"(only in the tuned one: {missing[:3]}, only in the start one: {extra[:3]}); "
            "interpolation needs the model the tuned one was trained from"
        )
    merged = {}
    for key, value in tuned.items():
        other = start[key]
        if other.shape != value.shape:
            raise ValueError(
                f"parameter {key!r}: shape {tuple(other.shape)} in the start model, {tuple(value.shape)} tuned"
            )
        if value.is_floating_point():
            merged[key] = torch.lerp(other.to(value.dtype), value, weight)
        elif torch.equal(other, value):
            merged[key] = value
        else:
            raise ValueError(f"parameter {key!r} is not floating point and differs between the two models")
    return merged


def merge_biencoders(start: str, tuned: str, weight: float, out: str | Path) -> Path:
    """Write the interpolated model to ``out`` (a sentence-transformers folder with the tuned model's modules,
    prompts and similarity, and ``synthret_merge.json`` saying what was merged); ``start`` and ``tuned`` are
    folders, hub ids or packaged names."""
    from synthret_ray.models import load_sentence_transformer
    from synthret_ray.training.trainer import publish_folder

    for role, name in (("start", start), ("tuned", tuned)):
        _refuse_cross_encoder(role, name)
    tuned_model = load_sentence_transformer(tuned, device="cpu")
    start_state = load_sentence_transformer(start, device="cpu").state_dict()
    tuned_model.load_state_dict(interpolate_state(start_state, tuned_model.state_dict(), weight))
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "model"
        tuned_model.save(str(staged))
        (staged / MERGE_FILE).write_text(json.dumps({"start": start, "tuned": tuned, "weight": weight}, indent=2))
        publish_folder(staged, str(out))
    return Path(out)


def _refuse_cross_encoder(role: str, name: str) -> None:
    # sentence-transformers loads a cross-encoder folder as a bi-encoder without its head, with a log line only.
    from synthret_ray.models import resolve_model

    resolved = resolve_model(name)
    config = Path(resolved.source) / "config_sentence_transformers.json"
    if resolved.local and config.is_file():
        kind = json.loads(config.read_text()).get("model_type", "SentenceTransformer")
        if kind != "SentenceTransformer":
            raise ValueError(f"{role} model {name} is a {kind} ({config}); merge interpolates bi-encoders only")
