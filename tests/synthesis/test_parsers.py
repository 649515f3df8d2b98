from __future__ import annotations

import pytest

from synthret_ray.synthesis.task import cut_words, distinct, parse_choice, parse_grade, parse_passage, parse_yes_no


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes.", "yes"),
        ("no", "no"),
        ("The passage is not relevant to the query.", "no"),
        ("Relevant", "yes"),
        ('{"answer": "no"}', "no"),
        ('{"relevant": true}', "yes"),
        ("I cannot tell", None),
        ("", None),
    ],
)
def test_yes_no(text, expected):
    assert parse_yes_no(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A", "A"),
        ("B.", "B"),
        ("Passage B is more relevant.", "B"),
        ("the answer is passage a", "A"),
        ('{"answer": "B"}', "B"),
        ("A passage about cats is better", None),  # the article, not a choice
        ("Both are relevant", None),
    ],
)
def test_choice(text, expected):
    assert parse_choice(text) == expected


@pytest.mark.parametrize(("text", "expected"), [("2", 2), ("Grade: 3", 3), ('{"grade": 0}', 0), ("five", None)])
def test_grade(text, expected):
    assert parse_grade(text) == expected


def test_passage_drops_labels_and_quotes_and_rejects_short_text():
    assert parse_passage('Passage: "Wild yeast makes the dough rise over several hours."') == (
        "Wild yeast makes the dough rise over several hours.",
        None,
    )
    assert parse_passage("Yes") == (None, "fewer than 5 words")
    assert parse_passage("  \n ") == (None, "no text")


def test_cut_words_and_distinct():
    assert cut_words("a b c d", 2) == ("a b", True)
    assert cut_words("a b", 2) == ("a b", False)
    assert distinct(["Hello, world", "hello world!", "other"]) == ["Hello, world", "other"]
