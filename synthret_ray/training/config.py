"""Typed config of ``synthret train``: stage, data, model, loss, optimization, evaluation, scaling."""

from __future__ import annotations

import os
from functools import reduce
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from synthret_ray.config import HASH_WHEN_SET, StrictModel
from synthret_ray.evaluation.config import FirstStageConfig

Stage = Literal["pairs", "distill", "align", "listwise", "reranker"]

# The loss each stage uses unless training.loss.name says otherwise, and the ones it accepts.
STAGE_LOSSES: dict[str, tuple[str, ...]] = {
    "pairs": ("infonce",),
    "distill": ("syntriever_distill", "infonce"),
    "align": ("partial_plackett_luce", "bradley_terry"),
    "listwise": ("wasserstein", "wasserstein_paired", "listnet"),
    "reranker": ("lce",),
}


class LossConfig(StrictModel):
    name: str | None = Field(None, description="Loss; null picks the stage's default (see STAGE_LOSSES).")
    temperature: float = Field(0.05, gt=0, description="tau in s(q,d) = cos/tau; 0.01-0.1 is usual (scale 100-10).")
    regularization: float = Field(
        0.0,
        ge=0,
        description="lambda of partial_plackett_luce: KL toward the frozen stage-1 model over the candidates each "
        "preference does not touch; 0 = the paper.",
    )


class OptimConfig(StrictModel):
    epochs: int = Field(1, gt=0, description="Passes over the training data.")
    batch_size: int = Field(32, gt=1, description="Queries per worker per step; in-batch negatives span all workers.")
    lr: float = Field(2e-5, gt=0, description="AdamW peak learning rate (1e-5 to 5e-5 for MiniLM/BERT-size).")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay.")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="Share of steps with linear warm-up, then linear decay.")
    max_grad_norm: float | None = Field(1.0, gt=0, description="Gradient clipping; null disables it.")
    max_seq_length: int = Field(256, gt=0, description="Tokens per text (query or document).")
    seed: int = Field(42, description="Seeds torch and the data shuffle, so a resumed run sees the same order.")
    shuffle_buffer: int = Field(1024, ge=0, description="Ray Data local shuffle buffer (rows); 0 keeps file order.")


class GroupConfig(StrictModel):
    max_positives: int = Field(3, gt=0, description="distill: positives kept per query (source, synthetic, q^cot).")
    max_negatives: int = Field(4, ge=0, description="distill/pairs: hard negatives kept per query.")
    listwise_size: int = Field(4, gt=1, description="listwise: graded documents per query (e.g. levels 3/2/1/0).")
    reranker_negatives: int = Field(7, gt=0, description="reranker: hard negatives per positive (LCE group = 1 + n).")
    negative_max_ratio: float | None = Field(
        None,
        gt=0,
        le=1,
        description="pairs / distill: drop a hard negative scored above this share of the first positive's score "
        "by the model training starts from, before training (NV-Retriever's positive-aware filter; 0.95 there): a "
        "small teacher's 'irrelevant' passages are often as close to the query as its positives. null keeps all.",
        json_schema_extra=HASH_WHEN_SET,
    )
    mined_negatives: int = Field(
        0,
        ge=0,
        description="pairs / distill: corpus passages added per query as hard negatives before training, ahead of "
        "the written ones: the best of the starting model's top mine_depth in mine_corpus that are not the query's "
        "positives and score at most negative_max_ratio (0.95 when null) of its first positive. 0: none.",
        json_schema_extra=HASH_WHEN_SET,
    )
    mine_corpus: str | None = Field(
        None,
        description="BEIR folder (corpus.jsonl) the mined negatives come from; the recipes set it to `data`.",
        json_schema_extra=HASH_WHEN_SET,
    )
    mine_depth: int = Field(
        30, gt=0, description="Top passages per query searched for mined negatives.", json_schema_extra=HASH_WHEN_SET
    )


class EvalDuringTraining(StrictModel):
    data: str | None = Field(None, description="BEIR folder for dev evaluation each epoch; null disables it.")
    split: str = Field("dev", description="Dev split; test_split is refused (it must never select checkpoints).")
    test_split: str = Field("test", description="The dataset's test split, named so that it is never used here.")
    depth: int = Field(20, gt=0, description="reranker stage: first-stage candidates reranked per dev query.")
    fusion_weight: Annotated[float, Field(ge=0, le=1)] | Literal["dev"] = Field(
        1.0,
        description="reranker stage: score each checkpoint as it will be deployed: fused with the first stage at "
        "this weight (1: the cross-encoder alone), or 'dev': at the best weight of the fusion grid on the dev "
        "queries (the weight the recipe's fusion stage will pick). The recipes set it with `depth`.",
    )
    first_stage: FirstStageConfig = Field(
        default_factory=FirstStageConfig,
        description="reranker stage: the retriever whose top `depth` the cross-encoder reranks on dev (bm25, or "
        "dense with a model: the first stage it will be deployed over).",
    )
    batch_size: int = Field(64, gt=0, description="Encoding batch size for dev evaluation.")
    pool_depth: int | None = Field(
        100,
        gt=0,
        description="Dense stages: rank only the dev queries' judged documents and BM25 top N (built once), not "
        "the whole corpus at every checkpoint; null ranks the whole corpus.",
    )
    at_start: bool = Field(
        True,
        description="Also evaluate and checkpoint the starting model (step 0), so checkpoint selection can keep "
        "it when training makes dev nDCG@10 worse.",
    )


class LoggingSettings(StrictModel):
    every_n_steps: int = Field(10, gt=0, description="Rank 0 prints loss and throughput every N steps.")


class CheckpointSettings(StrictModel):
    every_n_steps: int | None = Field(None, gt=0, description="Also checkpoint every N steps (epochs always do).")
    num_to_keep: int = Field(2, gt=0, description="Checkpoints kept; with dev eval, the best by ndcg_at_10 win.")


class DeepSpeedSettings(StrictModel):
    zero_stage: Literal[0, 1, 2, 3] = Field(1, description="ZeRO stage (all run on CPU with gloo, slowly).")
    offload_optimizer: bool = Field(False, description="Keep optimizer state in CPU memory (ZeRO-Offload).")
    config: dict = Field(default_factory=dict, description="Extra DeepSpeed config merged over the generated one.")


class ScalingSettings(StrictModel):
    num_workers: int = Field(1, gt=0, description="Ray Train workers (one per GPU).")
    use_gpu: bool = Field(False, description="Put each worker on a GPU (NCCL); false uses gloo on CPU.")
    cpus_per_worker: float = Field(1.0, gt=0, description="CPUs reserved per worker.")


class TrainConfig(StrictModel):
    stage: Stage = Field(description="pairs | distill | align | listwise | reranker; fixes data format and model.")
    train_data: str = Field(description="Parquet file or folder (or .jsonl) in the stage's training format.")
    model: str = Field(
        "minilm", description="Initial model: folder, hub id or packaged name (a stage-1 folder for align)."
    )
    reference_model: str | None = Field(
        None, description="align with regularization > 0: the frozen stage-1 model; null uses `model`."
    )
    output_dir: str = Field(
        "runs/train", description="Ray Train storage path (local or s3://); checkpoints live here."
    )
    run_name: str = Field("train", description="Run name; rerunning with the same name resumes from its checkpoint.")
    export_dir: str | None = Field(None, description="Best model folder; null is <output_dir>/<run_name>/model.")
    skip_invalid_rows: bool = Field(False, description="Skip (and count) invalid training rows instead of failing.")
    loss: LossConfig = LossConfig()
    optim: OptimConfig = OptimConfig()
    group: GroupConfig = GroupConfig()
    eval: EvalDuringTraining = EvalDuringTraining()
    checkpoint: CheckpointSettings = CheckpointSettings()
    logging: LoggingSettings = LoggingSettings()
    strategy: Literal["ddp", "deepspeed"] = Field("ddp", description="ddp, or deepspeed (ZeRO; `gpu` extra).")
    deepspeed: DeepSpeedSettings = DeepSpeedSettings()
    precision: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="bf16/fp16 autocast; fp16 is GPU only.")
    gradient_checkpointing: bool = Field(False, description="Trade compute for activation memory (GPU runs).")
    query_prefix: str | None = Field(
        None,
        description="Bi-encoders: prepended to queries in training, dev evaluation and the export ('query: '); "
        "null: the model's own `query` prompt (none for MiniLM).",
    )
    document_prefix: str | None = Field(
        None, description="Bi-encoders: prepended to documents, likewise ('passage: '); null: the model's own."
    )
    scaling: ScalingSettings = ScalingSettings()
    max_failures: int = Field(0, ge=-1, description="Ray Train worker-failure retries (-1 = unlimited).")

    @property
    def loss_name(self) -> str:
        return self.loss.name or STAGE_LOSSES[self.stage][0]

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        problems = []
        if self.loss.name is not None and self.loss.name not in STAGE_LOSSES[self.stage]:
            problems.append(
                f"loss.name: {self.loss.name!r} does not fit stage={self.stage}; use one of {STAGE_LOSSES[self.stage]}"
            )
        if self.eval.split == self.eval.test_split:
            problems.append(
                f"eval.split: {self.eval.split!r} is eval.test_split, which must never select checkpoints; use dev "
                "or a held-out train split"
            )
        if self.loss.regularization > 0 and self.loss_name != "partial_plackett_luce":
            problems.append("loss.regularization: only partial_plackett_luce (stage=align) uses it")
        if self.stage != "reranker" and self.eval.first_stage != FirstStageConfig():
            problems.append("eval.first_stage: only the reranker stage reranks a first stage on dev")
        if self.group.negative_max_ratio is not None and self.stage not in ("pairs", "distill"):
            problems.append(
                "group.negative_max_ratio: filters the hard negatives of pairs and distill data, not "
                f"stage={self.stage}"
            )
        if self.group.mined_negatives and self.stage not in ("pairs", "distill"):
            problems.append(
                f"group.mined_negatives: mines hard negatives for pairs and distill data, not stage={self.stage}"
            )
        if self.group.mined_negatives and not self.group.mine_corpus:
            problems.append("group.mine_corpus: a BEIR folder to mine group.mined_negatives from is needed")
        if self.precision == "fp16" and not self.scaling.use_gpu:
            problems.append("precision: fp16 needs GPUs (scaling.use_gpu=true); use bf16 or fp32 on CPU")
        if problems:
            raise ValueError("; ".join(problems))
        return self


# Local paths of a TrainConfig (dotted keys): Ray Train's workers and Tune's trials run in folders of their own, so
# relative ones are made absolute on the driver, where they were written.
PATH_KEYS = ("train_data", "model", "reference_model", "eval.data", "eval.first_stage.model", "group.mine_corpus")


def absolute_paths(train: TrainConfig) -> dict[str, Any]:
    """``train`` as a dict with its relative local paths (those that exist from here) made absolute; hub ids,
    packaged names and remote URIs stay as they are."""
    from synthret_ray.config import set_dotted
    from synthret_ray.data import fs

    tree = train.model_dump(mode="json")
    for key in PATH_KEYS:
        value = reduce(getattr, key.split("."), train)  # every section on the way is always set
        if isinstance(value, str) and not fs.is_remote(value) and not os.path.isabs(value) and os.path.exists(value):
            set_dotted(tree, key, os.path.abspath(value))
    return tree
