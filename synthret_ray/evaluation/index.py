"""faiss inner-product indexes: exact (flat) by default, IVF or HNSW for large corpora, on GPU when present."""

from __future__ import annotations

import math

import faiss
import numpy as np

from synthret_ray.evaluation.config import IndexConfig


def gpu_count() -> int:
    return faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0


class IndexBuilder:
    """Adds embeddings in batches; an IVF index buffers vectors until it has enough to train its centroids."""

    def __init__(self, dim: int, expected_size: int, cfg: IndexConfig):
        self.cfg, self.dim = cfg, dim
        self.ids: list[str] = []
        self._pending: list[np.ndarray] = []
        self._use_gpu = self._want_gpu(cfg)
        if cfg.kind == "flat":
            self.index = faiss.IndexFlatIP(dim)
        elif cfg.kind == "hnsw":
            self.index = faiss.IndexHNSWFlat(dim, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efConstruction = cfg.ef_construction
            self.index.hnsw.efSearch = cfg.ef_search
        else:
            self.nlist = cfg.nlist or max(1, int(4 * math.sqrt(max(expected_size, 1))))
            self.train_size = min(expected_size, max(39 * self.nlist, 10_000))
            self.index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, self.nlist, faiss.METRIC_INNER_PRODUCT)
            self.index.nprobe = cfg.nprobe
        if self._use_gpu and cfg.kind != "hnsw":
            self.index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, self.index)

    @staticmethod
    def _want_gpu(cfg: IndexConfig) -> bool:
        if cfg.device == "cpu":
            return False
        if cfg.device == "gpu" and gpu_count() == 0:
            raise RuntimeError("index.device=gpu but faiss sees no GPU: install the `gpu` extra (faiss-gpu-cu12)")
        if cfg.device == "gpu" and cfg.kind == "hnsw":
            raise ValueError("index.kind=hnsw has no faiss GPU implementation; use kind=flat or ivf on GPU")
        return gpu_count() > 0 and cfg.kind != "hnsw"

    def add(self, ids: list[str], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"expected {len(ids)} vectors of dim {self.dim}, got shape {vectors.shape}")
        self.ids.extend(ids)
        if self.index.is_trained:
            self.index.add(vectors)
            return
        self._pending.append(vectors)
        if sum(len(p) for p in self._pending) >= self.train_size:
            self._train_and_flush()

    def _train_and_flush(self) -> None:
        buffered = np.concatenate(self._pending)
        self._pending = []
        if len(buffered) < self.nlist:
            raise ValueError(f"IVF index needs at least nlist={self.nlist} vectors to train, got {len(buffered)}")
        self.index.train(buffered)
        self.index.add(buffered)

    def finish(self) -> faiss.Index:
        if self._pending:
            self._train_and_flush()
        return self.index


def search(index: faiss.Index, doc_ids: list[str], queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, positions)`` of the top ``k`` documents per query; positions index ``doc_ids``, -1 for none."""
    k = min(k, len(doc_ids))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
