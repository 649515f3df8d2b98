from __future__ import annotations

import pytest

from synthret_ray.engines.base import SamplingParams
from synthret_ray.synthesis import queries
from synthret_ray.synthesis.filters import is_echo, reject_reason

PASSAGE = (
    "Jupiter is the largest planet in the solar system. It is a gas giant with a mass more than two and a half "
    "times that of all the other planets combined."
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("what is the largest planet", "what is the largest planet"),
        ('Query: "largest planet in the solar system"\nextra line', "largest planet in the solar system"),
        ("\n\n1. how heavy is jupiter", "how heavy is jupiter"),
        ("- gas giant mass", "gas giant mass"),
    ],
)
def test_parse_tolerates_prefixes_quotes_and_lists(raw, expected):
    assert queries.parse(raw).query == expected


@pytest.mark.parametrize(("raw", "error"), [("", "no text"), ("  \n ", "no text"), ("Jupiter", "fewer than 2 words")])
def test_parse_reports_why_output_is_malformed(raw, error):
    parsed = queries.parse(raw)
    assert parsed.query is None and parsed.error == error


def test_prompt_has_system_message_and_few_shot_turns():
    request = queries.build_request(PASSAGE, SamplingParams())
    roles = [m["role"] for m in request.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert request.messages[-1]["content"].startswith("Passage: Jupiter is")
    assert queries.PROMPT_VERSION == "queries-v1"


def test_filters():
    assert is_echo("Jupiter is the largest planet in the solar system", PASSAGE)
    assert is_echo("It is a gas giant with a mass more than two and a half times", PASSAGE)
    assert not is_echo("which planet is the biggest", PASSAGE)
    seen: set[str] = set()
    assert reject_reason("which planet is the biggest", PASSAGE, 24, seen) is None
    assert reject_reason("Which planet is the biggest?", PASSAGE, 24, seen) == "duplicate"
    assert reject_reason("  ", PASSAGE, 24) == "empty"
    assert reject_reason("why " * 30, PASSAGE, 24) == "too_long"
    assert reject_reason("Jupiter is the largest planet in the solar system.", PASSAGE, 24) == "echo"
    # Seen from SmolLM2 on the pydocs corpus:
    assert reject_reason("os.stat -l -o mode, stat, mode, stat, stat, stat, stat, stat, stat", "", 24) == "repetitive"
    assert reject_reason("how to open a file for reading and writing in python", "", 24) is None
