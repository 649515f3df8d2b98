"""Typed config of ``synthret synthesize``: the task, its input, the engine, sampling, filters and the run folder.

The engine section is a union chosen by ``engine.kind`` (``local``, ``openai`` or ``vllm``); dotted overrides reach
the chosen kind's fields, e.g. ``engine.kind=openai engine.base_url=http://127.0.0.1:8000/v1``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import Field, model_validator

from synthret_ray.config import HASH_WHEN_SET, StrictModel, hashed
from synthret_ray.engines.config import EngineConfig, VLLMEngineConfig
from synthret_ray.evaluation.config import FirstStageConfig
from synthret_ray.synthesis.queries import FEW_SHOT

TASKS = ("queries", "distill", "verify", "graded", "label", "prefer")


class SamplingConfig(StrictModel):
    max_new_tokens: int | None = Field(None, gt=0, description="null: the task's default.")
    temperature: float = Field(0.0, ge=0, description="0 is greedy.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus mass when temperature > 0.")
    seed: int = Field(0, description="Base seed (request seeds add the sample index where engines take one).")


class CandidatesConfig(FirstStageConfig):
    retriever: Literal["bm25", "dense"] = Field("bm25", description="Ranks the corpus for label / prefer.")
    model: str | None = Field(None, description="Dense model (e.g. the stage-1 retriever) when retriever=dense.")
    k: int = Field(5, gt=1, description="Candidates per query (prefer: K passages, K*(K-1)/2 pairs).")


class InputConfig(StrictModel):
    data: str = Field(description="BEIR folder: the corpus (and, for input.queries=<split>, its queries).")
    queries: str | None = Field(
        None,
        description="Queries for distill/graded/label/prefer: a split of `data` with qrels (e.g. train; never "
        "test), or a queries run folder / queries.jsonl made by task=queries.",
    )
    test_split: str = Field(
        "test", description="The dataset's test split, named so that its queries never feed synthesis."
    )
    source_run: str | None = Field(None, description="verify: the distill run folder whose positives are checked.")
    limit: int | None = Field(
        None, gt=0, description="Use N passages or queries, a random sample drawn with sample_seed; null: all."
    )
    sample_seed: int = Field(0, description="Seed of the `limit` sample: the same seed, the same passages.")
    max_passage_words: int = Field(
        300, gt=0, description="Longer passages are cut to this many words before prompting (counted)."
    )


class FilterConfig(StrictModel):
    max_query_words: int = Field(24, gt=0, description="Longer generated queries are dropped (too_long).")
    max_passage_words: int = Field(250, gt=0, description="Longer generated passages are dropped (too_long).")
    round_trip: CandidatesConfig | None = Field(
        None, description="queries: keep a query only if this retriever ranks its source passage in its top k."
    )


class JudgeCheckConfig(StrictModel):
    data: str = Field(
        description="BEIR folder of labelled queries and their corpus; a recipe passes its dev folder (generated "
        "queries held out with the passage each was written from)."
    )
    split: str = Field("dev", description="Its qrels split; never input.test_split.")
    queries: int = Field(
        50,
        gt=0,
        description="A seeded sample of the split's queries, three pairs each: a judged passage, BM25's top "
        "passage not judged for it, a random passage.",
    )
    seed: int = Field(0, description="Seed of the sample and of the random passages.")


# Fields only some tasks read: left out of the other tasks' fingerprints, so that a setting (or a new field) of one
# task never invalidates the finished run of another.
TASK_FIELDS: dict[str, set[str]] = {
    "per_passage": {"queries"},
    "query_instruction": {"queries"},
    "query_examples": {"queries"},
    "examples_per_prompt": {"queries"},
    "negatives": {"distill"},
    "levels": {"graded"},
    "judged_in_list": {"graded"},
    "graded_labels": {"label"},
    "candidates": {"label", "prefer"},
    "judge": {"verify", "label", "prefer"},
    "judge_threshold": {"verify", "label"},
    "judge_question": {"verify", "label"},
    "prefer_margin": {"prefer"},
    "judge_check": {"verify", "label"},
}
JUDGING_TASKS = ("verify", "label", "prefer")


class QueryExample(StrictModel):
    passage: str = Field(min_length=1)
    query: str = Field(min_length=1)


class SynthesisConfig(StrictModel):
    task: Literal["queries", "distill", "verify", "graded", "label", "prefer"]
    input: InputConfig
    output_dir: str = Field(description="Run folder (local or s3://): shards/, stats.json, export/, config.yaml.")
    engine: EngineConfig = Field(default_factory=VLLMEngineConfig)
    sampling: SamplingConfig = SamplingConfig()
    per_passage: int = Field(1, gt=0, description="queries: queries generated per passage.")
    query_instruction: str | None = Field(
        None,
        min_length=1,
        description="queries: the system message, in the style of the queries to serve (null: short web search "
        "queries).",
    )
    query_examples: list[QueryExample] | None = Field(
        None,
        min_length=1,
        description="queries: worked (passage, query) examples in that style, shown as previous chat turns (null: "
        "two web-search examples). Write them yourself; never take them from the test queries.",
    )
    examples_per_prompt: int | None = Field(
        None,
        gt=0,
        description="queries: show this many of the examples in each prompt, a different run of them for each of a "
        "passage's samples (sample s starts at example s * examples_per_prompt, wrapping), so that per_passage > 1 "
        "writes different queries even greedily (a small teacher rambles when sampled); null: every example in "
        "every prompt.",
        json_schema_extra=HASH_WHEN_SET,
    )
    negatives: int = Field(2, gt=0, description="distill: plausibly irrelevant passages per query.")
    levels: list[int] = Field([3, 2, 1, 0], description="graded: relevance levels to write, 3 (answers) to 0.")
    judged_in_list: bool = Field(
        True,
        description="graded: each query's judged passages join its list first, at the highest level (for a "
        "generated query the passage it was written from; for a dataset split its qrels, i.e. human labels); "
        "false keeps the list synthetic only.",
    )
    graded_labels: bool = Field(False, description="label: grade candidates 0-3 instead of relevant / not.")
    judge: Literal["probability", "text"] = Field(
        "probability",
        description="verify, label, prefer: decide by the answer's probability, read from its first token's "
        "log-probabilities (vllm and local engines), or by its text alone (openai endpoints, whose constrained "
        "answers come back as JSON).",
    )
    judge_threshold: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="verify, label (judge=probability): P(yes) from which a passage counts as relevant.",
    )
    judge_question: str = Field(
        "Does the passage answer the query?",
        min_length=1,
        description="verify, label: the relevance question, in the examples and in every prompt; fit it to the "
        "queries' style (SciFact's claims: 'Could the passage support or refute the claim?').",
    )
    prefer_margin: float = Field(
        0.1,
        ge=0,
        lt=0.5,
        description="prefer (judge=probability): a pair is decided when P(first wins), averaged over both orders, "
        "is beyond 0.5 +- margin; otherwise it is a tie.",
    )
    judge_check: JudgeCheckConfig | None = Field(
        None,
        description="verify, label: measure the judge instead of running the task: its prompt, engine and "
        "threshold on labelled pairs; the run exports judge_check.parquet (each pair, its P(yes) and verdict) and "
        "the judge's accuracy and AUC in stats.json, no training data.",
        json_schema_extra=HASH_WHEN_SET,
    )
    candidates: CandidatesConfig = CandidatesConfig()
    filters: FilterConfig = FilterConfig()
    shard_rows: int = Field(256, gt=0, description="Rows per parquet shard (a kill loses at most this many).")
    progress: bool = True

    @model_validator(mode="after")
    def _check(self) -> SynthesisConfig:
        problems = []
        needs_queries = self.task in ("distill", "graded", "label", "prefer") and not self.judge_check
        if needs_queries and not self.input.queries:
            problems.append(f"input.queries: required for task={self.task} (a split such as train, or a queries run)")
        if self.input.queries == self.input.test_split:
            problems.append(
                f"input.queries: {self.input.queries!r} is input.test_split, which never feeds synthesis (its "
                "queries are for evaluation only); use train, or queries generated with task=queries"
            )
        if self.judge_check and self.task not in TASK_FIELDS["judge_check"]:
            problems.append(f"judge_check: measures the judge of verify or label, not of task={self.task}")
        if self.judge_check and self.judge_check.split == self.input.test_split:
            problems.append(
                f"judge_check.split: {self.judge_check.split!r} is input.test_split, whose labels are for evaluation "
                "only; check the judge on dev (a recipe's held-out generated queries) or train"
            )
        if self.task == "verify" and not self.input.source_run and not self.judge_check:
            problems.append("input.source_run: required for task=verify (the distill run folder)")
        if self.task == "queries":
            problems += self._example_problems()
        if self.judge == "probability" and self.task in JUDGING_TASKS and self.engine.kind == "openai":
            problems.append(
                "judge: 'probability' reads the answer token's log-probabilities, which engine.kind=openai does not "
                "return for its JSON-constrained answers; set judge=text"
            )
        if not self.levels or any(level not in (0, 1, 2, 3) for level in self.levels) or len(set(self.levels)) < 2:
            problems.append(f"levels: need at least two distinct levels out of 0-3, got {self.levels}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _example_problems(self) -> list[str]:
        available = len(self.query_examples or FEW_SHOT)  # the examples the prompts draw from
        per_prompt = self.examples_per_prompt
        if per_prompt is not None and per_prompt > available:
            return [f"examples_per_prompt: {per_prompt} is more than the {available} query_examples"]
        if self.per_passage > 1 and self.sampling.temperature == 0:
            if per_prompt is None:
                return [
                    "sampling.temperature: per_passage > 1 needs temperature > 0 or examples_per_prompt (else "
                    "identical samples)"
                ]
            if self.per_passage * per_prompt > available:
                return [
                    f"examples_per_prompt: per_passage={self.per_passage} greedy samples of {per_prompt} examples "
                    f"each need {self.per_passage * per_prompt} query_examples, not {available}, so that no two "
                    "prompts of a passage share an example"
                ]
        return []

    def relevant(self) -> dict[str, Any]:
        """The config without the fields its task never reads (``TASK_FIELDS``) nor options left at defaults that
        runs made before them did not have (``hashed``)."""
        dumped = hashed(self)
        return {k: v for k, v in dumped.items() if self.task in TASK_FIELDS.get(k, {self.task})}

    def makes_rows_of(self, stored: dict[str, Any]) -> bool:
        """Whether a run folder's ``config.yaml`` (``stored``: a config and its fingerprint) holds rows this config
        would make: the same fingerprint, or the stored config hashed by this version's rules (an earlier version
        stamped folders with a hash of more, such as the sample of units, so a grown sample matches)."""
        if stored.get("fingerprint") == self.fingerprint():
            return True
        try:
            earlier = SynthesisConfig.model_validate({k: v for k, v in stored.items() if k != "fingerprint"})
        except ValueError:  # a config this version cannot read: not the same rows
            return False
        return earlier.fingerprint() == self.fingerprint()

    def fingerprint(self) -> str:
        """Hash of everything that changes the rows (not resources, batch sizes or progress bars): a run folder
        made with another fingerprint is not resumed."""
        dumped = self.relevant()
        for key in ("progress", "shard_rows", "output_dir"):
            dumped.pop(key)
        dumped["filters"].pop("round_trip")  # applied at export, re-run on every call
        dumped["input"].pop("test_split")  # a guard, not an input
        # which units, not what a unit's row holds: rows are kept per unit id, and the export takes exactly this
        # config's units, so a larger sample (more passages, the same seed) reuses every row made before
        dumped["input"].pop("limit")
        dumped["input"].pop("sample_seed")
        if dumped.get("judge_check"):
            dumped["judge_check"].pop("queries")
        dumped["engine"] = self.engine.model_dump(mode="json", exclude=self.engine.resource_fields)
        if "candidates" in dumped:  # which candidates come out, not how they are encoded and searched
            for options in ("encode", "index"):
                model = getattr(self.candidates, options)
                rows = model.model_dump(mode="json", exclude=model.resource_fields)
                dumped["candidates"].pop(options, None)
                if rows != type(model)().model_dump(mode="json", exclude=model.resource_fields):
                    dumped["candidates"][options] = rows
        return hashlib.sha1(json.dumps(dumped, sort_keys=True).encode()).hexdigest()[:16]
