"""LLM engines behind one interface: chat messages + sampling in; text, token counts, timing or an error out.

``vllm`` (the default, on CPUs and GPUs) is Ray's own ``ray.data.llm`` processor (:mod:`synthret_ray.engines.vllm`);
``openai`` (any OpenAI-compatible endpoint) and ``local`` (transformers, where vLLM has no build) run inside
synthesis actors (:func:`build_engine`).
"""

from __future__ import annotations

from synthret_ray.engines.base import ChatRequest, Completion, Engine, EngineError, SamplingParams
from synthret_ray.engines.config import EngineConfig, LocalEngineConfig, OpenAIEngineConfig, VLLMEngineConfig

__all__ = [
    "ChatRequest",
    "Completion",
    "Engine",
    "EngineConfig",
    "EngineError",
    "LocalEngineConfig",
    "OpenAIEngineConfig",
    "SamplingParams",
    "VLLMEngineConfig",
    "build_engine",
    "check_engine",
]


def build_engine(cfg: LocalEngineConfig | OpenAIEngineConfig, threads: int | None = None) -> Engine:
    """An in-process engine for ``cfg``; ``threads`` is the torch thread count a local engine gets by default."""
    if isinstance(cfg, LocalEngineConfig):
        from synthret_ray.engines.local import LocalEngine

        device = None if cfg.device == "auto" else cfg.device
        return LocalEngine(cfg.model, cfg.max_context, device, cfg.threads or threads)
    if isinstance(cfg, OpenAIEngineConfig):
        from synthret_ray.engines.openai import OpenAIEngine

        return OpenAIEngine(**cfg.model_dump(exclude={"kind", "num_actors", "cpus_per_actor", "batch_size"}))
    raise EngineError(f"engine.kind: {cfg.kind!r} does not run in-process; use synthret_ray.engines.vllm")


def check_engine(cfg: EngineConfig) -> None:
    """Fail on the driver, before Ray schedules anything, when the engine cannot work: a model that does not
    resolve, an endpoint that cannot be reached, vLLM not installed."""
    if isinstance(cfg, OpenAIEngineConfig):
        build_engine(cfg).check()
        return
    if isinstance(cfg, VLLMEngineConfig):
        from synthret_ray.engines.vllm import require_vllm

        require_vllm()
    from synthret_ray.models.gguf import causal_lm_folder

    causal_lm_folder(cfg.model)  # a GGUF model is converted once here, not in every actor at the same time
