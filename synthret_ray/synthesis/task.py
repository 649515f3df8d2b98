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


# Per part key, a closed answer's probability per choice (engines that expose log-probabilities; see
# engines.base.choice_probabilities); a part without them is absent.
Probs = dict[str, dict[str, float]]


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

    def assemble(self, unit: dict[str, Any], texts: dict[str, str], probs: Probs | None = None) -> Outcome:
        raise NotImplementedError

    def judge_report(self, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        """How the judge decided over the kept rows (judging tasks), for the run's stats.json; None: not a judge."""
        return None

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


def _one(found: list[str]) -> str | None:
    """The answer when every mention agrees; None when there is none or they disagree (ambiguous)."""
    return found[0] if found and len(set(found)) == 1 else None


YES_NO = ("yes", "no")
_ANSWER_IS = r"\b(?:answer|verdict|grade|choice)\s*(?:is|would be|:|-)?\s*:?\s*"
_YES_NO_WORD = re.compile(r"\b(yes|no)\b", re.I)
_YES_NO_ANSWER = re.compile(_ANSWER_IS + r"[\"'*]*(yes|no)\b", re.I)
_NOT_RELEVANT = re.compile(r"\b(?:not|isn't|is not)\s+relevant\b|\birrelevant\b|\bunrelated\b", re.I)
_RELEVANT = re.compile(r"\brelevant\b", re.I)


def parse_yes_no(text: str) -> str | None:
    """``yes`` / ``no``: from JSON (``{"answer": "yes"}``), an explicit "answer: no", a reply that starts with
    the word, or the one yes/no word of the text; failing those, "(not) relevant" when the text says only one of
    them. None when nothing or both are said ("It is relevant? No." is no: its one yes/no word is the answer)."""
    value = _json_value(text, ("answer", "relevant"))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        text = value
    for pattern in (_YES_NO_ANSWER, re.compile(r"^\W*(yes|no)\b", re.I)):
        if match := pattern.search(text):
            return match.group(1).lower()
    if said := _one([w.lower() for w in _YES_NO_WORD.findall(text)]):
        return said
    negative = bool(_NOT_RELEVANT.search(text))
    positive = bool(_RELEVANT.search(_NOT_RELEVANT.sub(" ", text)))
    if negative != positive:
        return "no" if negative else "yes"
    return None


CHOICES_AB = ("A", "B")
# "the answer is passage a", or a bare letter that ends the clause ("Answer: B.", not "the answer is a bit ...")
_CHOICE_ANSWER = re.compile(
    _ANSWER_IS + r"(?:(?:passage|document|option)\s*[\"'*(]*([AB])\b|[\"'*(]*([AB])[\"'*)]*(?=\s*(?:[.,;:!]|$)))",
    re.I | re.M,
)
_BARE_CHOICE = re.compile(r"^\W*([AB])\W*$|^\W*([AB])[.:)]", re.M)
_MORE_RELEVANT = re.compile(r"\b(?:passage|document|option)\s+([AB])\s+is\s+(?:more|most|the\s+more|better)\b", re.I)
_NAMED_CHOICE = re.compile(r"\b(?:passage|document|option)\s+([AB])\b", re.I)


def parse_choice(text: str) -> str | None:
    """``A`` or ``B``: from JSON, an explicit "Answer: B" / "the answer is passage a", a line that is just the
    letter, "Passage B is more relevant", or the one passage a reply names. None when nothing or both are named
    without saying which wins ("Passage A is less relevant than Passage B"), and for the article "A ..."."""
    value = _json_value(text, ("answer", "choice"))
    if isinstance(value, str):
        text = value
    for pattern in (_CHOICE_ANSWER, _BARE_CHOICE, _MORE_RELEVANT):
        if said := _one([next(g for g in m.groups() if g).upper() for m in pattern.finditer(text)]):
            return said
    return _one([m.upper() for m in _NAMED_CHOICE.findall(text)])


GRADES = ("0", "1", "2", "3")
_GRADE_ANSWER = re.compile(_ANSWER_IS + r"[\"'*]*([0-3])\b(?!\s*(?:to|-)\s*\d)", re.I)
_BARE_GRADE = re.compile(r"^\W*([0-3])(?:\s*/\s*3)?\W*$", re.M)
_DIGIT = re.compile(r"(?<![\d.])\b(\d+)\b(?![\d.])")


def parse_grade(text: str) -> int | None:
    """0-3: from JSON, an explicit "Grade: 2", a line that is just the grade, or the one number of the reply when
    it is 0-3. None when no grade is said or several numbers leave it open ("on a scale of 0 to 3, 2")."""
    value = _json_value(text, ("grade", "answer", "score", "relevance"))
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and 0 <= value <= 3:
        return value
    for pattern in (_GRADE_ANSWER, _BARE_GRADE):
        if said := _one(pattern.findall(text)):
            return int(said)
    numbers = _DIGIT.findall(text)
    return int(numbers[0]) if len(numbers) == 1 and numbers[0] in GRADES else None


def judged_probability(cfg, probs: Probs | None, key: str, choice: str) -> float | None:
    """P(``choice``) of part ``key`` when the task judges by probability (``judge``) and the engine gave one."""
    if cfg.judge != "probability" or not probs or key not in probs:
        return None
    return float(probs[key].get(choice, 0.0))


NO_PROBABILITY = "judge: no probability, read from text"  # counted note: the engine returned no log-probabilities


def distinct(texts: list[str]) -> list[str]:
    """Texts in order without normalized duplicates."""
    seen, kept = set(), []
    for text in texts:
        key = normalize(text)
        if key and key not in seen:
            seen.add(key)
            kept.append(text)
    return kept
