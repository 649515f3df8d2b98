"""Dense first stage: encode corpus and queries with a sentence-transformers model, search with faiss.

Small corpora are encoded in this process. Large ones stream from ``corpus.jsonl`` through a Ray Data
actor pool (one model per actor, GPUs when asked) and are added to the index batch by batch, so the
driver holds embeddings, never the encoded texts twice.
"""

from __future__ import annotations

import copy
import hashlib
import os
from typing import TYPE_CHECKING

import numpy as np

from synthret_ray.cache import cache_root
from synthret_ray.data.beir import BeirData, corpus_dataset, doc_text
from synthret_ray.evaluation.config import EncodeConfig, IndexConfig
from synthret_ray.evaluation.index import IndexBuilder, search
from synthret_ray.evaluation.metrics import Run
from synthret_ray.models import load_sentence_transformer

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

SUPPORTED_SIMILARITIES = ("cosine", "dot")


class DenseEncoder:
    """A sentence-transformers model with the settings of ``EncodeConfig``; cosine models are L2-normalized."""

    def __init__(self, model: str | SentenceTransformer, cfg: EncodeConfig):
        self.cfg = cfg
        self.model = load_sentence_transformer(model, cfg.device) if isinstance(model, str) else model
        if cfg.max_seq_length:
            self.model.max_seq_length = cfg.max_seq_length
        from synthret_ray.evaluation.openvino import applies, resolve, use_openvino

        device = self.model.device.type
        self.backend, self.precision = resolve(cfg.backend, cfg.precision, device, applies(self.model))
        if self.backend == "openvino":
            if not isinstance(model, str):  # the caller's model (e.g. one in training) keeps its own modules
                self.model = copy.deepcopy(self.model)
            # a model from disk is converted once per weights; a model handed in (one in training) each time
            use_openvino(self.model, self.precision, key=self.weights_digest() if isinstance(model, str) else None)
        similarity = self.model.similarity_fn_name or "cosine"
        if similarity not in SUPPORTED_SIMILARITIES:
            raise ValueError(
                f"model {model!r} uses similarity {similarity!r}; faiss inner-product search supports "
                f"{SUPPORTED_SIMILARITIES}"
            )
        self.normalize = similarity == "cosine"
        # A model trained here carries its query / document prefixes as prompts: used unless the config sets them.
        prompts = getattr(self.model, "prompts", None) or {}
        self.query_prefix = cfg.query_prefix or prompts.get("query", "")
        self.document_prefix = cfg.document_prefix or prompts.get("document", "")

    @property
    def dim(self) -> int:
        return self.model.get_embedding_dimension()

    def encode(self, texts: list[str], prefix: str = "", progress: bool = False) -> np.ndarray:
        import torch

        device = self.model.device.type
        autocast = self.precision == "bf16" and self.backend == "torch"  # OpenVINO has its own bf16
        with torch.autocast(device, dtype=torch.bfloat16, enabled=autocast):
            embeddings = self.model.encode(
                [prefix + t for t in texts],
                batch_size=self.cfg.batch_size,
                normalize_embeddings=self.normalize,
                convert_to_tensor=True,
                show_progress_bar=progress,
            )
        return embeddings.float().cpu().numpy()

    def weights_digest(self) -> str:
        """Content hash of the model: its weights and the modules' settings (``repr`` names the architecture,
        max_seq_length and pooling)."""
        import torch

        digest = hashlib.blake2b(digest_size=16)
        for name, tensor in self.model.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        digest.update(repr(self.model).encode())
        return digest.hexdigest()

    def fingerprint(self) -> str:
        """Content hash of what decides an embedding: the weights and modules (``weights_digest``), the tokenizer,
        the normalization, and how the numbers are computed (precision, backend)."""
        tokenizer = self.model.tokenizer
        digest = hashlib.blake2b(self.weights_digest().encode(), digest_size=16)
        digest.update(f"{type(tokenizer).__name__}|{len(tokenizer)}|{self.normalize}".encode())
        digest.update(f"{self.precision}|{self.backend}".encode())
        return digest.hexdigest()


def corpus_embeddings(
    encoder: DenseEncoder, doc_ids: list[str], texts: list[str], cfg: EncodeConfig, progress: bool = False
) -> np.ndarray:
    """``encoder``'s embeddings of ``texts``; with ``cfg.cache``, read back when the same weights encoded the same
    documents before. Several recipes on one corpus compare with the same zero-shot model: it encodes once."""
    prefix = cfg.document_prefix or encoder.document_prefix
    if not cfg.cache:
        return encoder.encode(texts, prefix, progress)
    digest = hashlib.blake2b(encoder.fingerprint().encode(), digest_size=16)
    digest.update(prefix.encode())
    for doc_id, text in zip(doc_ids, texts, strict=True):
        digest.update(f"{len(doc_id)}:{doc_id}{len(text)}:".encode())
        digest.update(text.encode("utf-8", "surrogatepass"))
    path = cache_root() / "embeddings" / f"{digest.hexdigest()}.npy"
    if path.is_file():
        return np.load(path)
    embeddings = encoder.encode(texts, prefix, progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial")
    with open(partial, "wb") as f:  # written whole, then renamed: a killed run never leaves half a file
        np.save(f, embeddings)
    os.replace(partial, path)
    return embeddings


class _EncodeActor:
    """Ray Data actor: loads the model once and encodes batches of documents."""

    def __init__(self, model_name: str, cfg: EncodeConfig):
        self.encoder = DenseEncoder(model_name, cfg)
        self.prefix = self.encoder.document_prefix

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"_id": batch["_id"], "embedding": self.encoder.encode(list(batch["text"]), self.prefix)}


def _index_with_ray(data: BeirData, model_name: str, encode: EncodeConfig, builder: IndexBuilder) -> None:
    import ray
    import ray.data

    ds = corpus_dataset(data.path).map_batches(
        _EncodeActor,
        fn_constructor_kwargs={"model_name": model_name, "cfg": encode},
        batch_size=encode.ray_batch_rows,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=encode.num_actors),
        num_cpus=encode.num_cpus_per_actor,
        num_gpus=encode.num_gpus_per_actor,
    )
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        builder.add([str(i) for i in batch["_id"]], np.asarray(batch["embedding"]))


def dense_search(
    data: BeirData,
    encoder: DenseEncoder,
    k: int,
    encode: EncodeConfig,
    index: IndexConfig,
    progress: bool = True,
    model_name: str | None = None,
) -> Run:
    """Top ``k`` documents per query by inner product of the encoder's embeddings. With ``model_name`` (so that
    actors can load the model), corpora of ``encode.ray_min_docs`` documents or more go through Ray Data."""
    builder = IndexBuilder(encoder.dim, len(data.corpus), index)
    if model_name is not None and len(data.corpus) >= encode.ray_min_docs:
        _index_with_ray(data, model_name, encode, builder)
    else:
        doc_ids = list(data.corpus)
        texts = [doc_text(data.corpus[d]) for d in doc_ids]
        builder.add(doc_ids, corpus_embeddings(encoder, doc_ids, texts, encode, progress))
    faiss_index = builder.finish()
    qids = list(data.queries)
    q_emb = encoder.encode([data.queries[q] for q in qids], encode.query_prefix or encoder.query_prefix, progress)
    scores, positions = search(faiss_index, builder.ids, q_emb, k)
    return {
        qid: {builder.ids[p]: float(s) for p, s in zip(positions[row], scores[row], strict=True) if p >= 0}
        for row, qid in enumerate(qids)
    }
