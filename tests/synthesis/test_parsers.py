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
        # the answer, not the first yes-like word (a first-match parser read "relevant" as yes)
        ("It is relevant? No.", "no"),
        ("Answer: yes", "yes"),
        ("No, the passage is about something else.", "no"),
        ("Yes and no.", "yes"),  # a reply that starts with its answer
        ("Maybe yes, maybe no", None),  # both said: ambiguous, counted as malformed
        ("It is relevant to some degree but not relevant to the question", None),
    ],
)
def test_yes_no(text, expected):
    """Pins parsing the answer rather than the first yes/no-like token, and ambiguity as None (malformed)."""
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
        # explicit answers a bare-letter parser missed, and a comparison a first-named parser read as A
        ("Answer: B", "B"),
        ("The answer is B.", "B"),
        ("Passage A is less relevant than Passage B", None),
        ("Passage A mentions yeast, but Passage B is more relevant.", "B"),
    ],
)
def test_choice(text, expected):
    """Pins parsing the stated choice; a reply naming both passages without saying which wins is None."""
    assert parse_choice(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2", 2),
        ("Grade: 3", 3),
        ('{"grade": 0}', 0),
        ('{"answer": "1"}', 1),
        ("five", None),
        ("On a scale of 0 to 3, I would give it a 2.", None),  # a first-digit parser said 0
        ("I would grade it 2 out of 3", None),
        ("The grade is 1 because the passage is on topic.", 1),
    ],
)
def test_grade(text, expected):
    """Pins parsing the stated grade, not the first digit 0-3 anywhere in the reply."""
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


def test_the_article_a_after_answer_is_not_a_choice():
    assert parse_choice("The answer is a bit unclear, but Passage B is more relevant.") == "B"
    assert parse_choice("The answer is A.") == "A"
    assert parse_choice("The answer is passage a because it names the yeast") == "A"
