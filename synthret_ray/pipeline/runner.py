"""``run_recipe(cfg)``: a recipe's stages in one run folder, each skipped when it already finished with the same
config (its hash chains the hashes of the stages before it, so a change upstream redoes everything after it).

  syntriever  [queries] -> split -> distill -> verify -> stage1 (distill) -> prefer (stage-1 top K) -> stage2
              (align, from stage 1) -> evaluate
  sycl        [queries] -> split -> graded -> listwise -> evaluate
  reranker    [queries] -> split -> label (first stage's top k) -> reranker (LCE) -> fusion (cross-encoder's
              weight against the first stage, on dev) -> evaluate (first stage's top 100 reranked)

The reranker's first stage is BM25, or a dense bi-encoder (``first_stage.retriever=dense first_stage.model=...``).

``split`` fixes the training queries and the dev queries used for checkpoint selection; the test split is read
by ``evaluate`` only. A stage started but not finished (a crash, a kill) resumes in place: synthesis skips the
rows it wrote, Ray Train restarts from its last checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from synthret_ray.config import ConfigError, hashed
from synthret_ray.config.base import format_validation_error
from synthret_ray.data import fs
from synthret_ray.evaluation.config import FirstStageConfig
from synthret_ray.pipeline.config import RecipeConfig
from synthret_ray.pipeline.plots import write_plots
from synthret_ray.pipeline.report import write_report
from synthret_ray.synthesis.config import SynthesisConfig
from synthret_ray.synthesis.inputs import is_path, queries_folder
from synthret_ray.synthesis.judge_check import EXPORT_FILE
from synthret_ray.synthesis.store import RunStore
from synthret_ray.training.config import TrainConfig

STAGES = {
    "syntriever": ["queries", "split", "distill", "verify", "stage1", "prefer", "stage2", "evaluate"],
    "sycl": ["queries", "split", "graded", "listwise", "evaluate"],
    "reranker": ["queries", "split", "label", "reranker", "fusion", "evaluate"],
    "promptagator": ["queries", "split", "pairs", "evaluate"],
}
TRAIN_STAGE = {
    "stage1": "distill",
    "stage2": "align",
    "listwise": "listwise",
    "reranker": "reranker",
    "pairs": "pairs",
}


class PipelineError(RuntimeError):
    """A stage produced nothing usable (e.g. every synthetic row was filtered); the message says where to look."""


def stages_of(cfg: RecipeConfig) -> list[str]:
    from synthret_ray.data.corpus_import import SUFFIXES, is_beir_folder

    names = STAGES[cfg.recipe]
    names = names if cfg.train_queries == "generate" else [n for n in names if n != "queries"]
    if cfg.merge_weight is not None:
        names = [*names[:-1], "merge", names[-1]]  # before evaluate
    # A corpus outside the BEIR layout (parquet / jsonl files) is imported into the run folder first. Told from the
    # path alone for remote data (no request to a bucket to list the stages); the import itself checks again.
    imported = cfg.data.endswith(SUFFIXES) or (not fs.is_remote(cfg.data) and not is_beir_folder(cfg.data))
    return ["corpus", *names] if imported else names


def _validated(model: type[BaseModel], values: dict[str, Any], prefix: str) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, model, f"run config, {prefix}")) from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@dataclass
class RecipeRun:
    cfg: RecipeConfig
    from_stage: str | None = None
    log: Callable[[str], None] = print
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = stages_of(self.cfg)
        if self.from_stage is not None and self.from_stage not in names:
            raise ConfigError(f"--from: {self.from_stage!r} is not a stage of this run; stages: {names}")
        self.root = self.cfg.run_dir if fs.is_remote(self.cfg.run_dir) else os.path.abspath(self.cfg.run_dir)
        self.chain = hashlib.sha1(self.cfg.data.encode()).hexdigest()

    # -- paths -------------------------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        return fs.join(self.root, *parts)

    @property
    def dev_data(self) -> str:
        return self.cfg.data if self.cfg.dev_split else self.path("split", "dev")

    @property
    def dev_split(self) -> str:
        return self.cfg.dev_split or "dev"

    def model_dir(self, stage: str) -> str:
        return self.path("train", stage, "model")

    @property
    def first_stage(self) -> FirstStageConfig:
        """The reranker's first stage, encoding and searching as the run's ``encode`` / ``index`` say."""
        return self.cfg.first_stage.model_copy(update={"encode": self.cfg.encode, "index": self.cfg.index})

    def dense(self, model: str) -> dict[str, Any]:
        """A dense retriever's settings for the evaluate stage: the model, with the run's encode / index."""
        return {"retriever": "dense", "model": model, **self.cfg.encoding()}

    # -- stage configs -----------------------------------------------------------------------------------
    def synthesis_config(self, task: str, **derived: Any) -> SynthesisConfig:
        values = _merge(
            {
                "task": task,
                "output_dir": self.path(task),
                "engine": self.cfg.teacher.model_dump(),
                "progress": self.cfg.progress,
                **derived,
            },
            self.cfg.synthesis.get(task, {}),
        )
        return _validated(SynthesisConfig, values, f"synthesis.{task}")

    def query_task(self, task: str, **derived: Any) -> SynthesisConfig:
        inputs = {
            "data": self.cfg.data,
            "queries": self.path("split", "train", "queries.jsonl"),
            "test_split": self.cfg.test_split,
        }
        return self.synthesis_config(task, input=inputs, **derived)

    def train_config(self, stage: str, train_data: str, model: str, **derived: Any) -> TrainConfig:
        dev: dict[str, Any] = {
            "data": self.dev_data,
            "split": self.dev_split,
            "batch_size": self.cfg.encode.batch_size,
        }
        if self.cfg.dev_split:  # a split of the dataset itself: its test split is guarded there
            dev["test_split"] = self.cfg.test_split
        if stage == "reranker":  # dev scores checkpoints as test will: the first stage, its depth, the fusion
            dev["first_stage"] = hashed(self.first_stage)
            dev["depth"] = self.cfg.rerank_depth
            dev["fusion_weight"] = self.cfg.rerank_fusion
        if self.cfg.training.get(stage, {}).get("group", {}).get("mined_negatives"):
            derived = _merge({"group": {"mine_corpus": self.cfg.data}}, derived)  # the corpus the queries came from
        values = _merge(
            {
                "stage": TRAIN_STAGE[stage],
                "train_data": train_data,
                "model": model,
                "output_dir": self.path("train"),
                "run_name": stage,
                "eval": dev,
                **derived,
            },
            self.cfg.training.get(stage, {}),
        )
        return _validated(TrainConfig, values, f"training.{stage}")

    # -- running -----------------------------------------------------------------------------------------
    def stage(
        self,
        name: str,
        config: BaseModel | dict,
        run: Callable[[], dict[str, Any]],
        folder: str,
        reusable: Callable[[], bool] = lambda: False,
    ) -> dict:
        """Run ``name`` unless it finished before with the same config; ``folder`` is where its outputs go. A
        config that changed clears ``folder`` first, unless ``reusable()`` says its contents still hold (a
        synthesis folder made with the same fingerprint: its rows are resumed, not made again)."""
        payload = hashed(config) if isinstance(config, BaseModel) else config
        digest = hashlib.sha1(f"{self.chain}|{json.dumps(payload, sort_keys=True)}".encode()).hexdigest()[:16]
        self.chain = digest
        marker = self.path("stages", f"{name}.json")
        previous = _read_json(marker)
        names = stages_of(self.cfg)
        forced = self.from_stage is not None and name in names and names.index(name) >= names.index(self.from_stage)
        if previous and previous.get("hash") == digest and previous.get("finished") and not forced:
            self.log(f"[{name}] done before with the same config, skipped")
            self.summaries[name] = previous["summary"]
            return previous["summary"]
        if forced or (previous and previous.get("hash") != digest and not reusable()):
            _remove(folder)  # outputs of another config (or a redo): start this stage from nothing
        _write_json(marker, {"hash": digest, "finished": False})
        self.log(f"[{name}] running")
        start = time.perf_counter()
        summary = run()
        summary["wall_seconds"] = round(time.perf_counter() - start, 2)
        _write_json(marker, {"hash": digest, "finished": True, "summary": summary})
        self.summaries[name] = summary
        return summary

    def synthesize(self, name: str, cfg: SynthesisConfig, export_file: str) -> dict[str, Any]:
        from synthret_ray.synthesis.pipeline import synthesize

        def run() -> dict[str, Any]:
            stats = synthesize(cfg).stats
            rows = stats["export"]["files"].get(export_file, 0)
            if not rows:
                judge = stats["export"].get("judge")  # e.g. every pair a tie: the judge told nothing apart
                raise PipelineError(
                    f"stage {name} exported no rows to {export_file}; see {cfg.output_dir}/stats.json "
                    f"(statuses {stats['run_folder']['statuses']}, reasons {stats['run_folder']['reasons']}"
                    + (f", judge {judge}" if judge else "")
                    + ")"
                )
            if note := low_yield_note(name, stats["run_folder"]["statuses"], stats["run_folder"]["reasons"]):
                self.log(note)
            return {
                "rows": stats["run_folder"]["rows"],
                "statuses": stats["run_folder"]["statuses"],
                "reasons": stats["run_folder"]["reasons"],
                "exported": stats["export"]["files"],
                # the whole stage: every call's tokens and time (a resumed stage's wall_seconds is its last call's)
                "generated_tokens": stats["run_folder"]["generated_tokens"],
                "prompt_tokens": stats["run_folder"]["prompt_tokens"],
                "calls": stats["run_folder"]["calls"],
                "synthesis_seconds": stats["run_folder"]["wall_seconds"],
                **{k: v for k, v in stats["run_folder"].items() if k.endswith("_hours")},
                **({"judge": stats["export"]["judge"]} if "judge" in stats["export"] else {}),
            }

        return self.synthesis_stage(name, cfg, run)

    def synthesis_stage(self, name: str, cfg: SynthesisConfig, run: Callable[[], dict[str, Any]]) -> dict:
        """``stage`` for a synthesis task: redone because an earlier stage changed (more passages, another split),
        it resumes a folder whose rows this config would make again instead of starting from nothing."""
        return self.stage(
            name, cfg.relevant(), run, cfg.output_dir, lambda: RunStore(cfg.output_dir).holds_rows_of(cfg)
        )

    def judge_check(self, task: str, cfg: SynthesisConfig) -> None:
        """The teacher as judge, measured with ``task``'s prompt on the dev queries (their judged passage against
        BM25's top and a random one; ``synthesis/judge_check.py``). A report: no later stage reads it, so its hash
        stays out of theirs (turning it on or off redoes nothing else)."""
        if not self.cfg.judge_check_queries:
            return
        check = {"data": self.dev_data, "split": self.dev_split, "queries": self.cfg.judge_check_queries}
        values = cfg.model_dump(mode="json")
        values["input"]["test_split"] = self.cfg.test_split
        values.update(judge_check=check, output_dir=self.path("judge_check", task))
        chain = self.chain
        checked = _validated(SynthesisConfig, values, f"synthesis.{task}")
        judge = self.synthesize(f"judge_check_{task}", checked, EXPORT_FILE)["judge"]
        self.chain = chain
        self.log(
            f"[judge_check_{task}] the teacher as judge on {sum(judge['pairs'].values())} dev pairs: accuracy "
            f"{judge['accuracy']}, AUC of P(relevant) for the judged passage against BM25's top other passage "
            f"{judge['auc_judged_vs_top_ranked']}, against a random one {judge['auc_judged_vs_random']} (0.5: "
            f"chance); judge_threshold {cfg.judge_threshold}, best cut on these pairs {judge.get('best_threshold')}"
        )

    def fit_batch(self, name: str, cfg: TrainConfig) -> TrainConfig:
        """A weak teacher can leave fewer rows than one global batch: the stage then trains on all of them in one
        smaller batch (said in the log and the stage summary) rather than failing the recipe."""
        rows = _train_rows(cfg)
        if rows is None:
            return cfg  # the trainer names the missing file
        workers = cfg.scaling.num_workers
        if not workers <= rows < cfg.optim.batch_size * workers:
            return cfg
        if rows // workers < 2:  # a batch needs two rows: an in-batch loss has nothing to contrast with one
            raise PipelineError(
                f"[{name}] {rows} training rows for {workers} worker(s): fewer than the 2 per worker a batch needs; "
                "the teacher kept too little to train on (see this stage's synthesis stats.json)"
            )
        from synthret_ray.training.losses import get_loss

        if getattr(get_loss(cfg.loss_name), "batch_statistic", False):  # no quiet change of the batch's size
            raise PipelineError(
                f"[{name}] {rows} training rows, fewer than one batch of {cfg.optim.batch_size} x {workers} "
                f"worker(s): the {cfg.loss_name} loss compares the mean and covariance of a batch's rows, so "
                f"a smaller batch is a different loss. Set training.{name}.optim.batch_size to at most "
                f"{rows // workers} yourself (2 or more rows per global batch), or training.{name}.loss.name=listnet"
            )
        batch = rows // workers
        self.log(
            f"[{name}] {rows} training rows, fewer than one batch of {cfg.optim.batch_size} x {workers} worker(s): "
            f"optim.batch_size={batch} for this stage"
        )
        return cfg.model_copy(update={"optim": cfg.optim.model_copy(update={"batch_size": batch})})

    def train(self, name: str, cfg: TrainConfig) -> dict[str, Any]:
        from synthret_ray.training.trainer import train

        cfg = self.fit_batch(name, cfg)

        def run() -> dict[str, Any]:
            rows = _train_rows(cfg)
            if note := few_rows_note(name, rows, cfg.model, self.cfg.teacher.model):  # when it trains, not skips
                self.log(note)
            result = train(cfg)
            if result.best_metrics.get("step") == 0:
                self.log(
                    f"[{name}] dev nDCG@10 was best before training (step 0): the exported model is the starting "
                    f"model {cfg.model}"
                )
            if note := below_first_stage_note(name, result.best_metrics, cfg.eval.first_stage.label):
                self.log(note)
            return {
                "model": result.export_dir,
                "rows": result.rows,
                "batch_size": cfg.optim.batch_size,
                "best": result.best_metrics,
                "history": result.history,
                "train_seconds": result.wall_seconds,
                **result.resource_hours,
            }

        return self.stage(name, cfg, run, self.path("train", name))

    def run(self) -> dict[str, Any]:
        import ray.data

        # Ray Data's bars redraw with carriage returns: in a terminal only (a log gets the stages' own lines)
        ray.data.DataContext.get_current().enable_progress_bars = self.cfg.progress and sys.stderr.isatty()
        steps = {
            "syntriever": self._syntriever,
            "sycl": self._sycl,
            "reranker": self._reranker,
            "promptagator": self._promptagator,
        }
        self._import_corpus()
        if self.cfg.train_queries == "generate":
            derived: dict[str, Any] = {"input": {"data": self.cfg.data, "limit": self.cfg.passages}}
            if self.cfg.synthesis.get("queries", {}).get("filters", {}).get("round_trip"):  # encodes as the run
                derived["filters"] = {"round_trip": self.cfg.encoding()}
            queries = self.synthesis_config("queries", **derived)
            self.synthesize("queries", queries, "queries.jsonl")
        self._split()
        evaluation = steps[self.cfg.recipe]()
        summary = {
            "recipe": self.cfg.recipe,
            "data": self.cfg.data,
            "test_split": self.cfg.test_split,
            "stages": self.summaries,
            "evaluation": evaluation,
        }
        summary["plots"] = write_plots(summary, self.path("plots"))
        _write_json(self.path("summary.json"), summary)
        summary["report"] = write_report(self.cfg.run_dir)
        return summary

    def _import_corpus(self) -> None:
        """A parquet / jsonl corpus becomes the run's BEIR folder ``corpus/``, which every later stage reads."""
        from synthret_ray.data.corpus_import import import_corpus, is_beir_folder, source_stamp

        if is_beir_folder(self.cfg.data):
            return
        folder = self.path("corpus")
        config = {"files": source_stamp(self.cfg.data), "columns": self.cfg.corpus_columns.model_dump()}
        self.stage("corpus", config, lambda: import_corpus(self.cfg.data, folder, self.cfg.corpus_columns), folder)
        self.cfg = self.cfg.model_copy(update={"data": folder})

    def _split(self) -> None:
        from synthret_ray.pipeline.splits import split_queries

        config = {
            "train_queries": self.cfg.train_queries,
            "source": _fingerprint(self.cfg.train_queries) if is_path(self.cfg.train_queries) else None,
            "dev_split": self.cfg.dev_split,
            "dev_fraction": self.cfg.dev_fraction,
            "max_queries": self.cfg.max_queries,
            "method": "dev by source passage; max_queries a seeded sample",  # a change of method redoes the split
        }
        self.stage(
            "split",
            config,
            lambda: split_queries(self.cfg, self.path("queries"), self.path("split")),
            self.path("split"),
        )

    def _syntriever(self) -> dict[str, Any]:
        self.synthesize("distill", self.query_task("distill"), "distill.parquet")
        verify = self.synthesis_config("verify", input={"data": self.cfg.data, "source_run": self.path("distill")})
        self.judge_check("verify", verify)  # before the judge's verdicts are spent on every training query
        self.synthesize("verify", verify, "distill.parquet")
        self.train(
            "stage1", self.train_config("stage1", self.path("verify", "export", "distill.parquet"), self.cfg.student)
        )
        stage1 = self.model_dir("stage1")
        prefer = self.query_task("prefer", candidates={**self.dense(stage1), "k": 5})
        self.synthesize("prefer", prefer, "align.parquet")
        self.train(
            "stage2",
            self.train_config(
                "stage2",
                self.path("prefer", "export", "align.parquet"),
                stage1,
                reference_model=stage1,
                # the paper's form; training.stage2.loss.regularization > 0 anchors the uncontested candidates
                loss={"regularization": 0.0},
            ),
        )
        systems = {"zero-shot": self.cfg.student, "stage1": stage1, "stage2": self.model_dir("stage2")}
        systems |= self._merged("stage2")
        return self._evaluate({name: self.dense(m) for name, m in systems.items()})

    def _sycl(self) -> dict[str, Any]:
        self.synthesize("graded", self.query_task("graded"), "listwise.parquet")
        self.train(
            "listwise",
            self.train_config("listwise", self.path("graded", "export", "listwise.parquet"), self.cfg.student),
        )
        systems = {"zero-shot": self.cfg.student, "listwise": self.model_dir("listwise"), **self._merged("listwise")}
        return self._evaluate({name: self.dense(m) for name, m in systems.items()})

    def _promptagator(self) -> dict[str, Any]:
        """Promptagator (Dai et al., Promptagator: Few-shot dense retrieval from 8 examples, ICLR 2023, arXiv:
        2209.11755): the queries stage writes queries in the dataset's style and keeps those whose passage the
        round trip finds; the student trains on (query, its source passage), in-batch negatives (and mined ones
        with training.pairs.group.mined_negatives). No judging stage: a small teacher's own passages and verdicts
        cost more than they teach on CPU (benchmarks/RESULTS.md, stage-1 ablation)."""
        from synthret_ray.data.beir import read_corpus, read_qrels, read_queries
        from synthret_ray.synthesis.export import encode_rows
        from synthret_ray.training.data import judged_pairs

        train = self.path("split", "train")
        pairs = judged_pairs(read_corpus(self.cfg.data), read_queries(train), read_qrels(train, "train"))
        if not pairs:
            raise PipelineError("pairs: the split left no training query with its passage (see split's summary)")
        data = self.path("pairs", "pairs.parquet")
        fs.write_bytes(data, encode_rows("pairs.parquet", pairs))  # rebuilt from the split each run, same bytes
        self.train("pairs", self.train_config("pairs", data, self.cfg.student))
        systems = {"zero-shot": self.cfg.student, "pairs": self.model_dir("pairs"), **self._merged("pairs")}
        return self._evaluate({name: self.dense(m) for name, m in systems.items()})

    def _merged(self, stage: str) -> dict[str, str]:
        """The final student interpolated with the model it started from (``merge_weight``), as one more system."""
        from synthret_ray.training.merge import merge_biencoders

        weight = self.cfg.merge_weight
        if weight is None:
            return {}
        folder = self.path("merge", "model")
        config = {"start": self.cfg.student, "tuned": self.model_dir(stage), "weight": weight}

        def run() -> dict[str, Any]:
            merge_biencoders(self.cfg.student, self.model_dir(stage), weight, folder)
            return {"model": folder, **config}

        self.stage("merge", config, run, self.path("merge"))
        return {merged_system(stage): folder}

    def label_config(self) -> SynthesisConfig:
        """The reranker's ``label`` task: the teacher judges the first stage's top 10 of each training query, or
        the candidates ``synthesis.label.candidates.retriever`` names (e.g. BM25's, for a dense first stage)."""
        chosen = "retriever" in self.cfg.synthesis.get("label", {}).get("candidates", {})
        candidates = {"k": 10, **(self.cfg.encoding() if chosen else hashed(self.first_stage))}
        return self.query_task("label", candidates=candidates)

    def _reranker(self) -> dict[str, Any]:
        first = self.first_stage
        label = self.label_config()
        self.judge_check("label", label)
        self.synthesize("label", label, "reranker.parquet")
        self.train(
            "reranker",
            self.train_config("reranker", self.path("label", "export", "reranker.parquet"), self.cfg.student),
        )
        model = self.model_dir("reranker")
        reranker = {"model": model, "depth": self.cfg.rerank_depth, "fusion_weight": self._fusion(model)}
        systems = {} if first.retriever == "bm25" else {first.retriever: hashed(first)}
        systems[f"{first.retriever} >> reranker"] = {**hashed(first), "reranker": reranker}
        return self._evaluate(systems)

    def _fusion(self, model: str) -> float:
        """nDCG@10 on the dev queries for each weight of the cross-encoder against the first stage (one scoring
        pass), and the weight the test split is reranked with: the best on dev, or ``rerank_fusion`` when it is a
        number."""
        first = self.first_stage
        config = {
            "model": model,
            "first_stage": hashed(first),
            "depth": self.cfg.rerank_depth,
            "dev": [self.dev_data, self.dev_split],
            "rerank_fusion": self.cfg.rerank_fusion,
        }

        def run() -> dict[str, Any]:
            from synthret_ray.evaluation.fusion import best_weight, dev_fusion_table

            chosen = "dev" if self.cfg.rerank_fusion == "dev" else "config"
            if self.summaries.get("split", {}).get("dev_queries") == 0:  # one training query: none held out
                if chosen == "dev":
                    raise PipelineError(
                        "fusion: no dev queries to choose the cross-encoder's weight on (rerank_fusion=dev); give "
                        "more training queries, a dev_split, or a weight (rerank_fusion=1: the cross-encoder alone)"
                    )
                table = {}
            else:
                table = dev_fusion_table(
                    self.dev_data, self.dev_split, first, model, self.cfg.rerank_depth, self.cfg.progress
                )
            weight = best_weight(table) if chosen == "dev" else self.cfg.rerank_fusion
            summary = {
                "weight": weight,
                "chosen": chosen,
                "first_stage": first.label,
                "dev_ndcg_at_10": {str(w): round(v, 4) for w, v in table.items()},
            }
            _write_json(self.path("fusion", "fusion.json"), summary)
            self.log(
                f"[fusion] dev nDCG@10 by the cross-encoder's weight against {first.label}: "
                + ", ".join(f"{w}: {v:.4f}" for w, v in table.items())
                + f"; the test split is reranked with weight {weight} ({chosen})"
                + (f": {first.label}'s own ranking, the cross-encoder is not run on it" if weight == 0 else "")
            )
            return summary

        return self.stage("fusion", config, run, self.path("fusion"))["weight"]

    def _evaluate(self, systems: dict[str, dict[str, Any]]) -> dict[str, Any]:
        from synthret_ray.data.beir import available_splits
        from synthret_ray.evaluation import EvalConfig, run_eval

        if self.cfg.test_split not in available_splits(self.cfg.data):
            models = ", ".join(f"{name}: {v['model']}" for name, v in systems.items() if name != "zero-shot")
            self.log(
                f"[evaluate] {self.cfg.data} has no labelled {self.cfg.test_split} split (qrels/"
                f"{self.cfg.test_split}.tsv): nothing was scored. Checkpoints were selected on held-out generated "
                f"queries; the trained models: {models}"
            )
            return {"systems": {}, "scored": False}
        systems = {"bm25": {"retriever": "bm25"}, **systems}
        sample = self.cfg.test_max_queries

        def run() -> dict[str, Any]:
            if sample:
                self.log(
                    f"[evaluate] every system is scored on the same random {sample} of the {self.cfg.test_split} "
                    "split's queries (test_max_queries); the tables say of how many"
                )
            results = {}
            for name, values in systems.items():
                out = self.path("evaluate", f"{evaluation_stem(name)}.json")
                cfg = EvalConfig(data=self.cfg.data, split=self.cfg.test_split, out=out, max_queries=sample, **values)
                results[name] = {**run_eval(cfg, progress=self.cfg.progress).summary(), "system": name}
            return {"systems": results}

        # only a sampled evaluation adds its size, so that runs scored on every query keep their hash
        config = {"systems": systems, "split": self.cfg.test_split, **({"max_queries": sample} if sample else {})}
        return self.stage("evaluate", config, run, self.path("evaluate"))


def merged_system(stage: str) -> str:
    """The evaluate stage's name for a training stage's student merged with its start model (``merge_weight``)."""
    return f"{stage}-merged"


def evaluation_stem(system: str) -> str:
    """File name (without suffix) of a system's results in the evaluate stage: ``dense >> reranker`` ->
    ``dense_reranker`` (``.json``, ``.per_query.jsonl``, ``.run.trec``, ``.config.yaml``)."""
    return system.replace(" ", "").replace(">>", "_")


# Below this share of kept rows the log says so: the recipe goes on, but the user should know what it trains on.
LOW_YIELD = 0.5
# Below this many training rows a student seldom moves from its starting model: the SmolLM2 runs of 16-48 rows
# (make demo, benchmarks/quality.py protocol v1) ended within noise of zero-shot MiniLM or below it, 0 of 15 cases
# significantly above.
FEW_ROWS = 100


def _train_rows(cfg: TrainConfig) -> int | None:
    import pyarrow.parquet as pq

    if not fs.exists(cfg.train_data):
        return None
    filesystem, path = fs.resolve(cfg.train_data)
    return pq.read_metadata(path, filesystem=filesystem).num_rows


def few_rows_note(stage: str, rows: int | None, model: str, teacher: str = "") -> str | None:
    """Said before training: a stage with fewer than ``FEW_ROWS`` rows is not expected to improve its model."""
    if rows is None or rows >= FEW_ROWS:
        return None
    larger = "teacher.model=qwen-coder-1.5b after `make teachers`, " if teacher == "smollm2" else ""
    return (
        f"[{stage}] the teacher left {rows} training rows, fewer than {FEW_ROWS}: too few to expect {model} to "
        "improve (dev checkpoint selection keeps the starting model when training does not help). A larger teacher "
        f"({larger}or one behind teacher.kind=openai) or more passages or queries keep more"
    )


def low_yield_note(stage: str, statuses: dict[str, int], reasons: dict[str, int]) -> str | None:
    """A log line when the teacher's output was kept for less than ``LOW_YIELD`` of a stage's rows."""
    total, kept = sum(statuses.values()), statuses.get("ok", 0)
    if not total or kept >= LOW_YIELD * total:
        return None
    lost = reasons or {status: n for status, n in statuses.items() if status != "ok"}
    top = sorted(lost.items(), key=lambda item: -item[1])[:3]
    return (
        f"[{stage}] kept {kept} of {total} rows ({kept / total:.0%}); most lost to "
        f"{', '.join(f'{reason} ({n})' for reason, n in top)}. Small teachers copy their input or ramble: a "
        "larger teacher (teacher.model, or teacher.kind=openai) keeps more"
    )


def below_first_stage_note(stage: str, best: dict[str, Any], first_stage: str) -> str | None:
    """A log line when a reranker's kept checkpoint ranks the dev queries worse than its first stage alone:
    reranking the test split with it would lower nDCG, and the run says so before spending that time."""
    first = best.get("first_stage_ndcg_at_10")  # reported beside ndcg_at_10 by a reranker's dev evaluator
    if first is None:
        return None
    reranked = best.get("cross_encoder_ndcg_at_10", best["ndcg_at_10"])  # the cross-encoder alone, unfused
    if reranked >= first:
        return None
    return (
        f"[{stage}] dev nDCG@10 {reranked:.4f} after reranking, below {first:.4f} for {first_stage} alone on the "
        "same dev queries: this cross-encoder makes the first stage's order worse, and the fusion stage will give "
        "the first stage the weight dev asks for. More labelled rows (a larger teacher) or a trained cross-encoder "
        "as the student (student=cross-encoder/ms-marco-MiniLM-L6-v2) help"
    )


def run_recipe(cfg: RecipeConfig, from_stage: str | None = None, log: Callable[[str], None] = print) -> dict:
    return RecipeRun(cfg, from_stage, log).run()


def _fingerprint(queries_source: str) -> str:
    """Content hash of reused queries and their qrels: new queries at the same path redo the split."""
    folder = queries_folder(queries_source)
    digest = hashlib.sha1()
    for uri in (fs.join(folder, "queries.jsonl"), fs.join(folder, "qrels", "train.tsv")):
        digest.update(fs.read_bytes(uri) if fs.exists(uri) else b"-")
    return digest.hexdigest()[:16]


def _read_json(uri: str) -> dict[str, Any] | None:
    return json.loads(fs.read_bytes(uri).decode("utf-8")) if fs.exists(uri) else None


def _write_json(uri: str, obj: Any) -> None:
    fs.write_bytes(uri, json.dumps(obj, indent=2, default=str).encode("utf-8"))


def _remove(uri: str) -> None:
    if not fs.exists(uri):
        return
    if fs.is_remote(uri):
        filesystem, path = fs.resolve(uri)
        filesystem.delete_dir(path)
    else:
        shutil.rmtree(Path(uri), ignore_errors=True)
