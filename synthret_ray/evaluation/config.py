"""Typed config of ``synthret eval``: data, first-stage retriever (BM25 or dense + faiss), optional reranker."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from synthret_ray.config import HASH_WHEN_SET, StrictModel

# Deepest cutoff among the reported metrics (recall@100, map@100): retrieval must return at least this many.
MAX_METRIC_DEPTH = 100


class BM25Config(StrictModel):
    k1: float = Field(1.5, gt=0, description="Term-frequency saturation; 0.9-2.0 is the usual range.")
    b: float = Field(0.75, ge=0, le=1, description="Length normalization; 0 disables it.")
    method: Literal["lucene", "robertson", "atire", "bm25l", "bm25+"] = Field(
        "lucene", description="bm25s scoring variant; 'lucene' matches Elasticsearch/Anserini (BEIR's BM25)."
    )
    stopwords: str | None = Field("en", description="bm25s stopword list ('en') or null to keep every token.")
    stemmer: str | None = Field(
        None, description="PyStemmer language (e.g. 'english'); null keeps surface forms, as BEIR's BM25 table."
    )


class EncodeConfig(StrictModel):
    # how and where it runs, not which embeddings come out: left out of synthesis fingerprints
    resource_fields: ClassVar[set[str]] = {
        "batch_size", "device", "cache", "ray_min_docs", "num_actors", "num_cpus_per_actor", "num_gpus_per_actor",
        "ray_batch_rows",
    }  # fmt: skip
    batch_size: int = Field(64, gt=0, description="Texts per forward pass; raise it on GPUs (256-1024).")
    max_seq_length: int | None = Field(None, gt=0, description="Truncate inputs; null keeps the model's own limit.")
    device: str = Field("auto", description="'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N'.")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description="bf16: matrix products in bfloat16 (torch.autocast, or OpenVINO's bf16), on CPUs with AVX-512 "
        "BF16 or AMX and on GPUs; auto: bf16 where the backend is OpenVINO and the CPU computes bf16 natively, "
        "else fp32. benchmarks/eval_speed.py measures speed and nDCG of each.",
        json_schema_extra=HASH_WHEN_SET,
    )
    backend: Literal["auto", "torch", "openvino"] = Field(
        "auto",
        description="openvino: the transformer runs on OpenVINO's CPU runtime (converted from the PyTorch model, "
        "once per weights, under $SYNTHRET_CACHE/openvino; the `cpu` extra installs it); torch: PyTorch; auto: "
        "openvino on CPUs where it is installed, torch on GPUs.",
        json_schema_extra=HASH_WHEN_SET,
    )
    query_prefix: str = Field("", description="Prepended to queries, e.g. 'query: ' for E5 models.")
    document_prefix: str = Field("", description="Prepended to documents, e.g. 'passage: ' for E5 models.")
    cache: bool = Field(
        True,
        description="Reuse corpus embeddings made before by the same weights from the same documents (kept under "
        "$SYNTHRET_CACHE/embeddings, keyed by their content); corpora encoded in this process only.",
    )
    ray_min_docs: int = Field(
        200_000,
        ge=0,
        description="Corpora with at least this many documents are encoded by a Ray Data actor pool, streamed "
        "from corpus.jsonl; smaller ones in this process. 0 always uses Ray.",
    )
    num_actors: int = Field(1, gt=0, description="Encoder actors of the Ray Data pool (one per GPU on a cluster).")
    num_cpus_per_actor: float = Field(
        1.0, gt=0, description="CPUs reserved per actor; leave room for read tasks (0.5 on a 2-core machine)."
    )
    num_gpus_per_actor: float = Field(0.0, ge=0, description="GPUs per encoder actor; 1 on GPU clusters.")
    ray_batch_rows: int = Field(1024, gt=0, description="Rows handed to an actor per call (Ray Data batch size).")


class IndexConfig(StrictModel):
    resource_fields: ClassVar[set[str]] = {"device"}
    kind: Literal["flat", "ivf", "hnsw"] = Field(
        "flat",
        description="'flat' is exact inner-product search; 'ivf' and 'hnsw' are approximate, for large corpora.",
    )
    nlist: int | None = Field(None, gt=0, description="IVF cells; null picks 4*sqrt(N).")
    nprobe: int = Field(32, gt=0, description="IVF cells visited per query: higher is more exact and slower.")
    hnsw_m: int = Field(32, gt=1, description="HNSW neighbours per node.")
    ef_construction: int = Field(200, gt=0, description="HNSW build-time beam width.")
    ef_search: int = Field(256, gt=0, description="HNSW search beam width; keep it above top_k.")
    device: Literal["auto", "cpu", "gpu"] = Field(
        "auto", description="'gpu' needs faiss-gpu (the `gpu` extra); 'auto' uses it when present."
    )


class DenseOptions(StrictModel):
    """How dense retrieval encodes and searches. A recipe sets them once, at its top level, for every dense
    retrieval of the run (evaluation, dev evaluation, the teacher's candidates, the round-trip filter)."""

    encode: EncodeConfig = Field(
        default_factory=EncodeConfig,
        description="Encoding: batch, device, precision, a Ray Data actor pool for large corpora, the cache.",
        json_schema_extra=HASH_WHEN_SET,
    )
    index: IndexConfig = Field(
        default_factory=IndexConfig,
        description="The faiss index searched: flat (exact), ivf or hnsw.",
        json_schema_extra=HASH_WHEN_SET,
    )


class FirstStageConfig(DenseOptions):
    """The retriever whose top candidates a cross-encoder reranks (and, in a recipe, is labelled on)."""

    retriever: Literal["bm25", "dense"] = Field("bm25", description="bm25, or dense with `model`.")
    model: str | None = Field(
        None,
        description="Bi-encoder when retriever=dense: a folder (e.g. another run's train/stage2/model), hub id or "
        "packaged name (minilm).",
    )

    @model_validator(mode="after")
    def _check(self) -> FirstStageConfig:
        if self.retriever == "dense" and not self.model:
            raise ValueError("model is required when retriever=dense")
        if self.retriever == "bm25" and self.model:
            raise ValueError(f"model {self.model!r} has no effect with retriever=bm25; drop it or set retriever=dense")
        return self

    @property
    def label(self) -> str:
        return "BM25" if self.retriever == "bm25" else f"dense {self.model}"


class RerankConfig(StrictModel):
    model: str = Field(description="Cross-encoder: local folder, hub id or packaged name.")
    depth: int = Field(100, gt=0, description="First-stage candidates rescored per query.")
    batch_size: int = Field(32, gt=0, description="(query, document) pairs per forward pass.")
    max_length: int | None = Field(None, gt=0, description="Truncate pairs to this many tokens; null: the model's.")
    device: str = Field("auto", description="'auto', 'cpu', 'cuda' or 'cuda:N'.")
    fusion_weight: float = Field(
        1.0,
        ge=0,
        le=1,
        description="w in w * cross-encoder + (1 - w) * first stage, both min-max normalized per query over the "
        "reranked head; 1 ranks by the cross-encoder alone. `synthret run` picks it on dev queries.",
    )


class EvalConfig(StrictModel):
    data: str = Field(description="BEIR folder (local or s3://, gs://) with corpus.jsonl, queries.jsonl, qrels/.")
    split: str = Field("test", description="qrels/<split>.tsv to score against.")
    retriever: Literal["bm25", "dense"] = Field("bm25", description="First stage.")
    model: str | None = Field(None, description="Dense encoder (required for retriever=dense).")
    top_k: int = Field(MAX_METRIC_DEPTH, description="Documents retrieved per query (>= 100 for recall@100).")
    max_queries: int | None = Field(
        None,
        gt=0,
        description="Score a random sample of this many of the split's queries, the same sample for every system "
        "given the same max_queries and sample_seed (a cross-encoder over the top 100 of 15,000 queries is 1.5M "
        "pairs); null: all.",
    )
    sample_seed: int = Field(0, description="Seed of the max_queries sample.")
    ignore_identical_ids: bool = Field(
        True, description="BEIR convention: a query never retrieves a document with its own id (matters on ArguAna)."
    )
    bm25: BM25Config = BM25Config()
    encode: EncodeConfig = EncodeConfig()
    index: IndexConfig = IndexConfig()
    reranker: RerankConfig | None = Field(None, description="Optional cross-encoder over the first stage's top depth.")
    out: str | None = Field(
        None, description="results.json path; per-query metrics, run file and config go beside it."
    )

    @model_validator(mode="after")
    def _check(self) -> EvalConfig:
        problems = []
        if self.retriever == "dense" and not self.model:
            problems.append("model: required when retriever=dense (e.g. model=minilm)")
        if self.retriever == "bm25" and self.model:
            problems.append(f"model: {self.model!r} has no effect with retriever=bm25; drop it or set retriever=dense")
        if self.top_k < MAX_METRIC_DEPTH:
            problems.append(
                f"top_k: must be >= {MAX_METRIC_DEPTH} so recall@100 and map@100 are exact, got {self.top_k}"
            )
        if self.reranker and self.reranker.depth > self.top_k:
            problems.append(f"reranker.depth: {self.reranker.depth} exceeds top_k={self.top_k}; raise top_k")
        if problems:
            raise ValueError("; ".join(problems))
        return self
