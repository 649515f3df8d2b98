"""The local engine on the packaged SmolLM2-135M-Instruct (GGUF, converted once into the cache)."""

from __future__ import annotations

import pytest

from synthret_ray.engines.base import ChatRequest, SamplingParams
from synthret_ray.synthesis import queries


@pytest.fixture(scope="module")
def engine():
    from synthret_ray.engines.local import LocalEngine

    return LocalEngine("smollm2", device="cpu")


@pytest.mark.slow
def test_batched_greedy_generation_matches_one_at_a_time(engine):
    sampling = SamplingParams(max_new_tokens=12)
    short = queries.build_request("Chess is a board game for two players on a board of 64 squares.", sampling)
    long = queries.build_request(
        "Photosynthesis converts light energy, water and carbon dioxide into glucose and oxygen in the "
        "chloroplasts of plant cells, and it is the source of nearly all the oxygen in the atmosphere.",
        sampling,
    )
    batch = engine.generate([short, long])
    alone = engine.generate([short])
    assert len(batch) == 2 and all(c.error is None and c.text for c in batch)
    assert batch[0].text == alone[0].text  # left padding does not change a greedy continuation
    assert batch[1].prompt_tokens > batch[0].prompt_tokens > 0
    assert 0 < batch[0].completion_tokens <= 12


@pytest.mark.slow
def test_prompt_longer_than_the_context_is_cut_and_flagged(engine):
    from synthret_ray.engines.local import LocalEngine

    small = LocalEngine("smollm2", max_context=96, device="cpu")  # the converted folder is cached by now
    request = ChatRequest([{"role": "user", "content": "word " * 400}], SamplingParams(max_new_tokens=8))
    (completion,) = small.generate([request])
    assert completion.truncated_prompt and completion.prompt_tokens == 88 and completion.error is None


@pytest.mark.slow
def test_mixed_sampling_in_one_call_is_an_error(engine):
    a = ChatRequest([{"role": "user", "content": "hi"}], SamplingParams(max_new_tokens=4))
    b = ChatRequest([{"role": "user", "content": "hi"}], SamplingParams(max_new_tokens=5))
    with pytest.raises(ValueError, match="same sampling parameters"):
        engine.generate([a, b])


@pytest.mark.slow
def test_closed_answers_come_with_choice_probabilities(engine):
    """The first generated token's log-probabilities, read as P(choice): normalised over the choices, and only for
    requests that have choices."""
    from synthret_ray.synthesis.task import YES_NO
    from synthret_ray.synthesis.verify import relevance_messages

    messages = relevance_messages("what makes bread rise", "Yeast releases gas that makes dough rise.", "Relevant?")
    judged, free = engine.generate(
        [
            ChatRequest(messages, SamplingParams(max_new_tokens=2), YES_NO),
            ChatRequest(messages, SamplingParams(max_new_tokens=2)),
        ]
    )
    assert set(judged.choice_probs) == {"yes", "no"} and sum(judged.choice_probs.values()) == pytest.approx(1.0)
    assert 0 < judged.choice_probs["yes"] < 1 and free.choice_probs is None
