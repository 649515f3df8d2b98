"""Noise filters for small teachers: empty, over-long, repetitive, echoed, example-copying and duplicate outputs.

Each filter returns a reason string (counted per reason in the run's stats) or None when the output is kept.
An echo depends on which way the text went: a query written from a passage echoes it when it copies a piece of
the passage (``copy``); a passage written for a query echoes it only when it is little more than the query
(``restate``): a good answer restates its query ("The main causes of the French Revolution were ...").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from difflib import SequenceMatcher
from typing import Literal

WORD = re.compile(r"\w+")


def normalize(text: str) -> str:
    return " ".join(WORD.findall(text.lower()))


def is_echo(output: str, source: str, max_copied: float = 0.75, max_ratio: float = 0.9) -> bool:
    """The output is mostly a verbatim piece of the source: its longest run of words found verbatim in the source
    covers more than ``max_copied`` of its words (3 words at least), or it is nearly one of the source's sentences
    (difflib ratio above ``max_ratio``; a copied title is one). A query that shares a technical passage's terms is
    not an echo ("pressure distribution on a flat plate" for a passage titled "pressure distribution induced on a
    flat plate at a free-stream mach number of 1.39 ...", nor a title turned into a question)."""
    out, src = normalize(output), normalize(source)
    if not out:
        return False
    words, padded = out.split(), f" {src} "
    longest = 0
    for start in range(len(words)):
        while start + longest < len(words) and f" {' '.join(words[start : start + longest + 1])} " in padded:
            longest += 1
    if longest >= 3 and longest > max_copied * len(words):
        return True
    sentences = [normalize(s) for s in re.split(r"(?<=[.!?])\s+", source) if s.strip()]
    return any(SequenceMatcher(None, out, s).ratio() > max_ratio for s in sentences)


def is_restatement(output: str, query: str, max_extra_words: int = 4, max_ratio: float = 0.8) -> bool:
    """A text written for ``query`` that only repeats it: at most ``max_extra_words`` words longer than the query,
    and holding it verbatim or nearly equal to it (difflib ratio above ``max_ratio``)."""
    out, q = normalize(output), normalize(query)
    if not out or not q or len(out.split()) > len(q.split()) + max_extra_words:
        return False
    return f" {q} " in f" {out} " or SequenceMatcher(None, out, q).ratio() > max_ratio


def is_example_copy(output: str, examples: Iterable[str], max_ratio: float = 0.9) -> bool:
    """The output repeats one of the prompt's worked examples (small teachers do) instead of answering."""
    out = normalize(output)
    return any(out == (ex := normalize(e)) or SequenceMatcher(None, out, ex).ratio() > max_ratio for e in examples)


def is_repetitive(output: str, min_words: int = 6, max_share: float = 0.35) -> bool:
    """Degenerate loops of small models ("stat, stat, stat"): one word is more than ``max_share`` of a text of
    at least ``min_words`` words."""
    words = normalize(output).split()
    if len(words) < min_words:
        return False
    return max(words.count(w) for w in set(words)) / len(words) > max_share


def reject_reason(
    output: str,
    source: str,
    max_words: int,
    seen: set[str] | None = None,
    echo: Literal["copy", "restate"] = "copy",
    examples: Iterable[str] = (),
) -> str | None:
    """Why ``output`` is filtered: ``empty``, ``too_long``, ``repetitive``, ``echo``, ``example_copy`` or
    ``duplicate``; None keeps it. ``echo`` says what an echo of ``source`` is (see the module docstring);
    ``examples`` are the prompt's worked answers; ``seen`` collects normalized outputs kept so far (per source or
    per run, as the caller scopes it)."""
    key = normalize(output)
    if not key:
        return "empty"
    if len(key.split()) > max_words:
        return "too_long"
    if is_repetitive(output):
        return "repetitive"
    if is_echo(output, source) if echo == "copy" else is_restatement(output, source):
        return "echo"
    if is_example_copy(output, examples):
        return "example_copy"
    if seen is not None:
        if key in seen:
            return "duplicate"
        seen.add(key)
    return None
