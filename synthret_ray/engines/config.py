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
        False, description="Send the task's JSON schema as response_format (servers that support json_schema)."
    )
    num_actors: int = Field(1, gt=0, description="Client actors; each keeps `concurrency` requests in flight.")
    cpus_per_actor: float = Field(0.25, gt=0, description="Ray CPUs each client actor reserves.")
    batch_size: int = Field(32, gt=0, description="Requests handed to an actor at a time.")


class VLLMEngineConfig(StrictModel):
    resource_fields: ClassVar[set[str]] = {"concurrency", "batch_size", "gpu_memory_utilization"}
    kind: Literal["vllm"] = "vllm"
    model: str = Field(description="Hub id or local folder vLLM can load.")
    tensor_parallel_size: int = Field(1, gt=0, description="GPUs per replica.")
    concurrency: int = Field(1, gt=0, description="vLLM replicas (each holds tensor_parallel_size GPUs).")
    batch_size: int = Field(64, gt=0, description="Rows per batch sent to a replica.")
    max_model_len: int | None = Field(None, gt=0, description="Context length; null: the model's.")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="Share of GPU memory vLLM may take.")
    engine_kwargs: dict[str, Any] = Field(default_factory=dict, description="Extra vllm engine arguments.")
    structured_output: bool = Field(True, description="Enforce the task's JSON schema with vLLM structured outputs.")


def _engine_kind(value: Any) -> str:
    # An engine section without `kind` is the local default, so `engine.batch_size=4` alone works.
    return value.get("kind", "local") if isinstance(value, dict) else getattr(value, "kind", "local")


EngineConfig = Annotated[
    Annotated[LocalEngineConfig, Tag("local")]
    | Annotated[OpenAIEngineConfig, Tag("openai")]
    | Annotated[VLLMEngineConfig, Tag("vllm")],
    Discriminator(_engine_kind),
]
