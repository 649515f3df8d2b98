"""The vllm engine is Ray's own `ray.data.llm` processor; without GPUs we check what can be checked here:
the processor builds from our config, sampling maps to vLLM's names, and running it is a clear error."""

from __future__ import annotations

import pytest

from synthret_ray.engines import EngineError, SamplingParams, VLLMEngineConfig, check_engine
from synthret_ray.engines.vllm import build_vllm_processor, engine_kwargs, sampling_params


def test_processor_builds_from_the_engine_config(ray_local, tmp_path):  # building it may start Ray
    from ray.data.llm import Processor

    from synthret_ray.models import load_sentence_transformer

    folder = tmp_path / "model"
    load_sentence_transformer("minilm").save(str(folder))  # any local folder with a config.json
    cfg = VLLMEngineConfig(
        model=str(folder),
        tensor_parallel_size=2,
        concurrency=3,
        batch_size=16,
        max_model_len=4096,
        engine_kwargs={"enable_prefix_caching": True},
    )
    processor = build_vllm_processor(cfg, SamplingParams(max_new_tokens=7))
    assert isinstance(processor, Processor)
    assert engine_kwargs(cfg) == {
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.9,
        "max_model_len": 4096,
        "enable_prefix_caching": True,
    }
    assert processor.config.concurrency == 3 and processor.config.batch_size == 16
    assert processor.config.should_continue_on_error


def test_sampling_maps_to_vllm_names_with_per_request_seed_and_schema():
    params = sampling_params(
        SamplingParams(max_new_tokens=9, temperature=0.5, top_p=0.9, seed=10), 2, '{"type": "object"}', structured=True
    )
    assert params == {
        "max_tokens": 9,
        "temperature": 0.5,
        "top_p": 0.9,
        "seed": 12,
        "structured_outputs": {"json": {"type": "object"}},
    }
    assert "structured_outputs" not in sampling_params(SamplingParams(), 0, '{"type": "object"}', structured=False)


def test_running_vllm_without_vllm_installed_is_a_clear_error():
    pytest.importorskip("ray")
    try:
        import vllm  # noqa: F401

        pytest.skip("vllm is installed here")
    except ImportError:
        pass
    with pytest.raises(EngineError, match="engine.kind=vllm needs vLLM and GPUs"):
        check_engine(VLLMEngineConfig(model="Qwen/Qwen2.5-7B-Instruct"))
