"""What every synthesis task module provides, and the tolerant parsers they share.

A task turns one *unit* (a passage, a query, a query with candidates...) into one or more prompts (*parts*),
and the parts' texts back into one output row. Parsing never raises: an unusable answer makes the row
``malformed`` (required part) or is dropped and counted (optional part), with the raw text kept in the row.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from synthret_ray.synthesis.filters import normalize

# The unit of the tasks that judge retrieved candidates (label, prefer).
CANDIDATE_COLUMNS: dict[str, pa.DataType] = {
    "query_id": pa.string(),
    "query": pa.string(),
    "doc_ids": pa.list_(pa.string()),
    "documents": pa.list_(pa.string()),
}


@dataclass(frozen=True)
class Part:
    key: str
    messages: list[dict[str, str]]
    choices: tuple[str, ...] | None = None  # a closed answer, constrained by engines with structured output


@dataclass
class Outcome:
    """A task's verdict on one unit: its fields, a status, the reason when not ok, and part-level notes
    (e.g. ``negative: echo``) that are counted in the run's stats without failing the row."""

    fields: dict[str, Any]
    status: str = "ok"
    reason: str | None = None
    notes: list[str] = field(default_factory=list)


class Task:
    name: ClassVar[str]
    prompt_version: ClassVar[str]
    max_new_tokens: ClassVar[int]
    # Output columns of this task (beside the common ones); an explicit schema keeps every shard readable
    # together even when a shard holds only failed rows.
    columns: ClassVar[dict[str, pa.DataType]]

    def __init__(self, cfg):  # cfg: SynthesisConfig
        self.cfg = cfg

    @property
    def uses_judged(self) -> bool:
        """Whether units carry the query's judged passages (``known_positives``) from the qrels beside its queries."""
        return "known_positives" in self.columns

    def unit_id(self, *key: Any) -> str:
        raw = json.dumps([self.name, self.prompt_version, *key], ensure_ascii=False)
        return hashlib.sha1(raw.encode()).hexdigest()[:20]

    def parts(self, unit: dict[str, Any]) -> list[Part]:
        raise NotImplementedError

    def assemble(self, unit: dict[str, Any], texts: dict[str, str]) -> Outcome:
        raise NotImplementedError

    def skip_reason(self, unit: dict[str, Any]) -> str | None:
        """Why a unit cannot make a prompt; such a unit is recorded as filtered without an engine call."""
        return "empty_input" if "query" in unit and not unit["query"].strip() else None

    def dedupe_key(self, fields: dict[str, Any]) -> str | None:
        """Rows with the same key across the run are duplicates (the later ones are filtered); None: no check."""
        return None

    def export(self, rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """Training files from the run's kept rows: ``{file name: rows}``."""
        raise NotImplementedError


class CandidateTask(Task):
    """Base of the tasks that judge a query's retrieved candidates (label, prefer)."""

    columns: ClassVar[dict[str, pa.DataType]] = CANDIDATE_COLUMNS

    def skip_reason(self, unit: dict[str, Any]) -> str | None:
        return super().skip_reason(unit) or (None if len(unit["documents"]) >= 2 else "too_few_candidates")


def chat(system: str, examples: list[tuple[str, str]], user: str) -> list[dict[str, str]]:
    """System message, worked examples as previous turns (small models need them), then the real prompt."""
    messages = [{"role": "system", "content": system}]
    for prompt, answer in examples:
        messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    messages.append({"role": "user", "content": user})
    return messages


def cut_words(text: str, max_words: int) -> tuple[str, bool]:
    words = text.split()
    if len(words) <= max_words:
        return text, False
    return " ".join(words[:max_words]), True


_LABEL = re.compile(r"^\s*(?:\*\*)?(?:passage|document|query|answer|output)\s*\d*\s*(?:\*\*)?\s*[:\-]\s*", re.I)
_LIST_MARK = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+")


def clean_line(line: str) -> str:
    line = _LIST_MARK.sub("", _LABEL.sub("", line))
    return line.strip().strip("\"'`“”").strip()


def parse_passage(text: str, min_words: int = 5) -> tuple[str | None, str | None]:
    """The passage a model wrote, without a leading "Passage:" label or quotes; ``(None, reason)`` if unusable."""
    lines = [clean_line(line) for line in text.strip().splitlines()]
    passage = " ".join(line for line in lines if line)
    if not passage:
        return None, "no text"
    if len(passage.split()) < min_words:
        return None, f"fewer than {min_words} words"
    return passage, None


def _json_value(text: str, keys: tuple[str, ...]) -> Any:
    match = re.search(r"\{.*\}", text, re.S)
    if not match:
        return None
    try:
        obj = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    if isinstance(obj, dict):
        for key in keys:
            if key in obj:
                return obj[key]
    return None


YES_NO = ("yes", "no")
_YES = re.compile(r"\b(yes|no|relevant|irrelevant|not relevant|true|false)\b", re.I)


def parse_yes_no(text: str) -> str | None:
    """``yes`` / ``no`` from JSON (``{"answer": "yes"}``) or the first yes/no-like word; None if neither."""
    value = _json_value(text, ("answer", "relevant"))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        text = value
    match = _YES.search(text)
    if not match:
        return None
    return "yes" if match.group(1).lower() in ("yes", "relevant", "true") else "no"


CHOICES_AB = ("A", "B")
_NAMED_CHOICE = re.compile(r"\b(?:passage|document|option)\s+([AB])\b", re.I)
_BARE_CHOICE = re.compile(r"^\W*([AB])\W*$|^\W*([AB])[.:)]", re.M)


def parse_choice(text: str) -> str | None:
    """``A`` or ``B`` from JSON, ``Passage B ...``, or a line that is just ``A`` / ``B.``; None otherwise
    (a sentence starting with the article "A" is not a choice)."""
    value = _json_value(text, ("answer", "choice"))
    if isinstance(value, str):
        text = value
    match = _NAMED_CHOICE.search(text) or _BARE_CHOICE.search(text)
    if not match:
        return None
    return (match.group(1) or match.group(2)).upper()


GRADES = ("0", "1", "2", "3")


def parse_grade(text: str) -> int | None:
    value = _json_value(text, ("grade", "answer", "score", "relevance"))
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and 0 <= value <= 3:
        return value
    match = re.search(r"\b([0-3])\b", text)
    return int(match.group(1)) if match else None


def distinct(texts: list[str]) -> list[str]:
    """Texts in order without normalized duplicates."""
    seen, kept = set(), []
    for text in texts:
        key = normalize(text)
        if key and key not in seen:
            seen.add(key)
            kept.append(text)
    return kept
