"""Typed config of ``synthret run``: one recipe (syntriever, sycl, reranker, promptagator) from corpus to evaluated
model.

Per-stage settings are the synthesis and training configs themselves: ``synthesis.<task>.<field>`` and
``training.<stage>.<field>`` are merged over what the recipe derives (data paths, teacher, student), then
validated by ``SynthesisConfig`` / ``TrainConfig``; their errors are reported under those prefixes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from synthret_ray.config import hashed
from synthret_ray.data.corpus_import import CorpusColumns
from synthret_ray.engines.config import EngineConfig, VLLMEngineConfig
from synthret_ray.evaluation.config import DenseOptions, FirstStageConfig


class RecipeConfig(DenseOptions):
    """One recipe run, corpus to evaluated model; its ``encode`` / ``index`` serve every dense retrieval of it."""

    recipe: Literal["syntriever", "sycl", "reranker", "promptagator"]
    data: str = Field(
        description="BEIR folder (the corpus, and the qrels splits named below), or a corpus alone: a parquet or "
        "jsonl file, or a folder of them, with the columns of corpus_columns (imported once into the run folder)."
    )
    corpus_columns: CorpusColumns = Field(
        default_factory=CorpusColumns, description="For a parquet / jsonl corpus: its id, text and title columns."
    )
    run_dir: str = Field(description="One folder per run: a sub-folder per stage, summary.json, plots.")
    train_queries: str = Field(
        "generate",
        description="Training queries: 'generate' (task=queries over the corpus), a split of `data` with qrels "
        "(e.g. train), or the path of queries generated before for the same corpus (another run's `queries` "
        "folder, or a BEIR folder with queries.jsonl and qrels/train.tsv): generate once, compare recipes on the "
        "same queries. Never test.",
    )
    passages: int | None = Field(
        100, gt=0, description="generate: corpus passages queries are written for (a seeded random sample)."
    )
    max_queries: int | None = Field(
        None, gt=0, description="Cap on training queries, a seeded random sample of them (quick runs); null: all."
    )
    dev_split: str | None = Field(
        None,
        description="Split of `data` for checkpoint selection; null holds out `dev_fraction` of the training "
        "queries (with their source passage as the relevant document when generated).",
    )
    dev_fraction: float = Field(0.2, gt=0, lt=1, description="Share of training queries held out as dev.")
    test_split: str = Field("test", description="Split scored at the end, and only there.")
    test_max_queries: int | None = Field(
        None,
        gt=0,
        description="Score the test split on a random sample (seed 0) of this many of its queries, the same for "
        "every system of the run and for `synthret eval max_queries=N`; for a reranker over a large test split. "
        "null: all.",
    )
    teacher: EngineConfig = Field(default_factory=VLLMEngineConfig)
    student: str = Field("minilm", description="Bi-encoder (or the reranker's backbone) to fine-tune.")
    synthesis: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per task (queries, distill, ...): SynthesisConfig fields."
    )
    training: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per stage (stage1, stage2, listwise, reranker, pairs): TrainConfig fields."
    )
    first_stage: FirstStageConfig = Field(
        default_factory=FirstStageConfig,
        description="reranker: the retriever whose top candidates are labelled by the teacher, reranked on dev and "
        "test, and fused with: bm25, or dense with a model (minilm, or a sycl / syntriever run's trained student).",
    )
    rerank_depth: int = Field(100, gt=0, description="reranker: first-stage candidates reranked at evaluation.")
    rerank_fusion: Annotated[float, Field(ge=0, le=1)] | Literal["dev"] = Field(
        "dev",
        description="reranker: weight w of the cross-encoder in w * cross-encoder + (1 - w) * first stage "
        "(per-query min-max normalized); 'dev' picks it from 0, 0.1, ..., 1 by nDCG@10 on the dev queries, 1 is "
        "the cross-encoder alone.",
    )
    merge_weight: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None,
        description="promptagator, sycl, syntriever: also interpolate the final student with the model it started "
        "from, (1 - w) * student + w * trained (WiSE-FT), in a `merge` stage, scored as `<stage>-merged`; null: "
        "off. Set w before looking at test: dev, written by the same teacher as training, favours w = 1.",
    )
    judge_check_queries: int | None = Field(
        50,
        gt=0,
        description="syntriever, reranker: measure the teacher as judge (verify's or label's prompt) on this many "
        "dev queries, three labelled pairs each (see synthesis.judge_check), in a stage of its own after the "
        "judging one; null skips it.",
    )
    progress: bool = True

    @model_validator(mode="after")
    def _check(self) -> RecipeConfig:
        problems = []
        test = self.test_split
        if self.train_queries == test:
            problems.append(
                f"train_queries: {test!r} is test_split, which never feeds synthesis or training; use train or "
                "generate"
            )
        if self.dev_split == test:
            problems.append(
                f"dev_split: {test!r} is test_split, which never selects checkpoints; use dev, or null to hold out "
                "queries"
            )
        if self.dev_split is not None and self.dev_split == self.train_queries:
            problems.append(f"dev_split: {self.dev_split!r} is also train_queries; dev queries must be held apart")
        for options in ("encode", "index"):
            if getattr(self.first_stage, options) != getattr(FirstStageConfig(), options):
                problems.append(f"first_stage.{options}: set the run's {options} once, at the top level ({options}.*)")
        if self.recipe == "reranker" and self.merge_weight is not None:
            problems.append(
                "merge_weight: the reranker recipe's student is a cross-encoder; merge interpolates bi-encoders"
            )
        if self.recipe != "reranker" and self.first_stage != FirstStageConfig():
            problems.append(f"first_stage: only the reranker recipe reranks a first stage, not {self.recipe}")
        known = {
            "syntriever": {"queries", "distill", "verify", "prefer"},
            "sycl": {"queries", "graded"},
            "reranker": {"queries", "label"},
            "promptagator": {"queries"},
        }[self.recipe]
        for task in self.synthesis:
            if task not in known:
                problems.append(f"synthesis.{task}: not a task of recipe {self.recipe} ({sorted(known)})")
        stages = {
            "syntriever": {"stage1", "stage2"},
            "sycl": {"listwise"},
            "reranker": {"reranker"},
            "promptagator": {"pairs"},
        }[self.recipe]
        for stage in self.training:
            if stage not in stages:
                problems.append(f"training.{stage}: not a training stage of recipe {self.recipe} ({sorted(stages)})")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def encoding(self) -> dict[str, Any]:
        """The run's ``encode`` / ``index`` options that differ from the defaults, to merge into every dense
        retrieval's config (left out at their defaults, so that the stage hashes of earlier runs hold)."""
        return {k: v for k, v in hashed(self).items() if k in ("encode", "index")}
