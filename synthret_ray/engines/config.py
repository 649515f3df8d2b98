"""Engine sections of a synthesis config, one model per ``engine.kind``."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Discriminator, Field, Tag

from synthret_ray.config import StrictModel


class LocalEngineConfig(StrictModel):
    # Fields that change speed, not the generated text: left out of a synthesis run's fingerprint.
    resource_fields: ClassVar[set[str]] = {
        "num_actors",
        "cpus_per_actor",
        "gpus_per_actor",
        "batch_size",
        "threads",
        "device",
    }
    kind: Literal["local"] = "local"
    model: str = Field("smollm2", description="Causal LM: packaged name (smollm2), local folder or hub id.")
    max_context: int | None = Field(None, gt=0, description="Prompt + generation tokens; null: the model's limit.")
    device: str = Field("auto", description="'auto' (GPU when the actor has one), 'cpu' or 'cuda'.")
    threads: int | None = Field(
        None, gt=0, description="torch threads per actor; null: the node's cores divided among the actors."
    )
    num_actors: int = Field(1, gt=0, description="Engine replicas (Ray Data actor pool size).")
    cpus_per_actor: float = Field(
        1.0, gt=0, description="Ray CPUs each actor reserves; keep the pool below the node's CPUs (reads need one)."
    )
    gpus_per_actor: float = Field(0, ge=0, description="GPUs each actor reserves (0 on CPU nodes).")
    batch_size: int = Field(8, gt=0, description="Requests per generate() call.")


class OpenAIEngineConfig(StrictModel):
    resource_fields: ClassVar[set[str]] = {
        "num_actors",
        "cpus_per_actor",
        "batch_size",
        "concurrency",
        "qps",
        "timeout_s",
        "max_retries",
        "backoff_s",
        "api_key_env",
    }
    kind: Literal["openai"] = "openai"
    base_url: str = Field(description="Endpoint root, e.g. http://127.0.0.1:8000/v1 (vllm serve, transformers serve).")
    model: str = Field(description="Model name sent with each request.")
    api_key_env: str | None = Field(
        None, description="Environment variable holding the API key (never the key itself); null: no key."
    )
    qps: float | None = Field(None, gt=0, description="Requests per second per actor; null: unlimited.")
    concurrency: int = Field(4, gt=0, description="Requests in flight per actor.")
    timeout_s: float = Field(120.0, gt=0, description="Per-request timeout.")
    max_retries: int = Field(4, ge=0, description="Retries on 429, 5xx, timeouts and connection errors.")
    backoff_s: float = Field(1.0, ge=0, description="First retry delay; doubles each retry (Retry-After wins).")
    structured_output: bool = Field(
        False,
        description="Send closed answers (yes/no, A/B, grades) as a JSON schema response_format (servers that "
        "support json_schema).",
    )
    num_actors: int = Field(1, gt=0, description="Client actors; each keeps `concurrency` requests in flight.")
    cpus_per_actor: float = Field(0.25, gt=0, description="Ray CPUs each client actor reserves.")
    batch_size: int = Field(32, gt=0, description="Requests handed to an actor at a time.")


class VLLMEngineConfig(StrictModel):
    resource_fields: ClassVar[set[str]] = {
        "device",
        "concurrency",
        "batch_size",
        "max_concurrent_batches",
        "gpu_memory_utilization",
        "cpus_per_replica",
        "kv_cache_gib",
        "cpu_threads_bind",
        "cpu_reserved_cores",
        "enforce_eager",
    }
    kind: Literal["vllm"] = "vllm"
    model: str = Field(
        "smollm2",
        description="Packaged name (smollm2), local folder or hub id; GGUF models are converted once into the cache.",
    )
    device: Literal["auto", "cpu", "gpu"] = Field(
        "auto",
        description="'auto': GPUs when the Ray cluster has any when the stage starts, else vLLM's CPU build; "
        "say 'gpu' on an autoscaling cluster whose GPU nodes start on demand.",
    )
    tensor_parallel_size: int = Field(1, gt=0, description="GPUs (or CPU worker processes) per replica.")
    concurrency: int = Field(1, gt=0, description="vLLM replicas (Ray Data actors), each with its own engine.")
    batch_size: int = Field(64, gt=0, description="Rows per batch sent to a replica.")
    max_concurrent_batches: int = Field(
        4, gt=0, description="Batches in flight per replica, so the engine never waits for the next one."
    )
    max_model_len: int | None = Field(None, gt=0, description="Context length; null: the model's.")
    dtype: str = Field(
        "auto",
        description="Weights and activations: auto (vLLM's choice on GPUs; on CPUs bfloat16 where the CPU computes it "
        "natively, else float32), bfloat16, float16 (GPU) or float32.",
    )
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="GPU: share of GPU memory vLLM may take.")
    cpus_per_replica: float = Field(
        1.0,
        gt=0,
        description="CPU: Ray CPUs a replica reserves (its threads follow cpu_threads_bind); the other stages take "
        "0.1 CPU each, so one replica fits a 2-core node.",
    )
    kv_cache_gib: int = Field(
        4, gt=0, description="CPU: KV cache size (VLLM_CPU_KVCACHE_SPACE); vLLM's default is most of the RAM."
    )
    cpu_threads_bind: str = Field(
        "auto",
        description="CPU: VLLM_CPU_OMP_THREADS_BIND. 'auto' binds one thread per physical core of the node, less "
        "cpu_reserved_cores (one replica per node; with several on a node, give each its cores, e.g. '0-7' and "
        "'8-15' in two synthesis configs, or run them on separate nodes); '|' separates TP ranks.",
    )
    cpu_reserved_cores: int = Field(
        0,
        ge=0,
        description="CPU: cores 'auto' leaves to other processes (VLLM_CPU_NUM_OF_RESERVED_CPU; vLLM's own default "
        "is 1, which halves a 2-core node: 55 against 99 generated tokens/s measured here).",
    )
    enforce_eager: bool | None = Field(
        None,
        description="null: eager on CPU (torch.compile adds 40-55 s to every engine start), CUDA graphs on GPU.",
    )
    engine_kwargs: dict[str, Any] = Field(default_factory=dict, description="Extra vllm engine arguments (win).")
    structured_output: bool = Field(
        True, description="Constrain closed answers (yes/no, A/B, grades) to their choices with vLLM."
    )


def _engine_kind(value: Any) -> str:
    # An engine section without `kind` is the vllm default, so `engine.batch_size=4` alone works.
    return value.get("kind", "vllm") if isinstance(value, dict) else getattr(value, "kind", "vllm")


EngineConfig = Annotated[
    Annotated[LocalEngineConfig, Tag("local")]
    | Annotated[OpenAIEngineConfig, Tag("openai")]
    | Annotated[VLLMEngineConfig, Tag("vllm")],
    Discriminator(_engine_kind),
]
