"""vLLM on GPUs through Ray's own ``ray.data.llm`` processor (``build_processor`` + ``vLLMEngineProcessorConfig``).

It is deliberately thin: Ray schedules the replicas (``concurrency`` x ``tensor_parallel_size`` GPUs), batches,
applies the chat template and tokenizes. Rows come in with the synthesis request columns (``messages``,
``seed_offset``, ``json_schema``) and leave with the same completion columns as the in-process engines.
"""

from __future__ import annotations

import json
from typing import Any

from synthret_ray.engines.base import EngineError, SamplingParams
from synthret_ray.engines.config import VLLMEngineConfig


def require_vllm() -> None:
    try:
        import vllm  # noqa: F401
    except ImportError:
        raise EngineError(
            "engine.kind=vllm needs vLLM and GPUs: pip install 'synthret-ray[gpu]' on the GPU nodes "
            "(on CPU use engine.kind=local, or engine.kind=openai against a running server)"
        ) from None


def engine_kwargs(cfg: VLLMEngineConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "tensor_parallel_size": cfg.tensor_parallel_size,
        "gpu_memory_utilization": cfg.gpu_memory_utilization,
    }
    if cfg.max_model_len:
        kwargs["max_model_len"] = cfg.max_model_len
    return {**kwargs, **cfg.engine_kwargs}


def sampling_params(sampling: SamplingParams, seed_offset: int, json_schema: str | None, structured: bool) -> dict:
    params: dict[str, Any] = {
        "max_tokens": sampling.max_new_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "seed": sampling.seed + int(seed_offset),
    }
    if structured and json_schema:
        params["structured_outputs"] = {"json": json.loads(json_schema)}
    return params


def build_vllm_processor(cfg: VLLMEngineConfig, sampling: SamplingParams):
    """A ``ray.data.llm`` processor: ``processor(dataset)`` maps request rows to completion rows."""
    from ray.data.llm import build_processor, vLLMEngineProcessorConfig

    config = vLLMEngineProcessorConfig(
        model_source=cfg.model,
        engine_kwargs=engine_kwargs(cfg),
        concurrency=cfg.concurrency,
        batch_size=cfg.batch_size,
        should_continue_on_error=True,  # a failed request becomes a row with an error, never a failed job
    )

    def preprocess(row: dict) -> dict:
        params = sampling_params(sampling, row["seed_offset"], row.get("json_schema"), cfg.structured_output)
        return {**row, "sampling_params": params}

    def postprocess(row: dict) -> dict:
        kept = {k: v for k, v in row.items() if k not in ("sampling_params", "generated_text", "generated_tokens")}
        return {
            **kept,
            "text": (row.get("generated_text") or "").strip(),
            "prompt_tokens": int(row.get("num_input_tokens") or 0),
            "completion_tokens": int(row.get("num_generated_tokens") or 0),
            "seconds": float(row.get("time_taken_llm") or 0.0),
            "error": row.get("__inference_error__") or None,
            "truncated": False,
            "worker": f"vllm:{cfg.model}",
        }

    return build_processor(config, preprocess=preprocess, postprocess=postprocess)
