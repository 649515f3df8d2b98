"""Corpus embeddings are read back only for the same weights, documents and prefix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthret_ray.data import load_beir
from synthret_ray.data.beir import doc_text
from synthret_ray.evaluation import EvalConfig, run_eval
from synthret_ray.evaluation.config import EncodeConfig
from synthret_ray.evaluation.dense import DenseEncoder, corpus_embeddings


@pytest.mark.slow
def test_corpus_embeddings_are_reused_only_for_the_same_weights_and_documents(tiny_beir, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SYNTHRET_CACHE", str(cache))
    data = load_beir(str(tiny_beir), "test")
    ids = list(data.corpus)
    texts = [doc_text(data.corpus[d]) for d in ids]
    cfg = EncodeConfig(backend="torch")  # weights edited in place below: an OpenVINO copy would not see them
    encoder = DenseEncoder("minilm", cfg)
    calls = []
    real_encode = encoder.encode
    encoder.encode = lambda *args, **kwargs: calls.append(len(args[0])) or real_encode(*args, **kwargs)

    def stored() -> int:
        return len(list((cache / "embeddings").glob("*.npy")))

    first = corpus_embeddings(encoder, ids, texts, cfg)
    assert calls == [len(ids)] and stored() == 1
    assert np.array_equal(corpus_embeddings(encoder, ids, texts, cfg), first) and len(calls) == 1

    edited = [*texts[:-1], texts[-1] + " and one more sentence"]
    corpus_embeddings(encoder, ids, edited, cfg)
    corpus_embeddings(encoder, ids, texts, cfg.model_copy(update={"document_prefix": "passage: "}))
    assert len(calls) == 3 and stored() == 3

    with torch.no_grad():
        next(encoder.model.parameters()).add_(0.05)
    moved = corpus_embeddings(encoder, ids, texts, cfg)
    assert len(calls) == 4 and stored() == 4 and not np.allclose(moved, first)

    corpus_embeddings(encoder, ids, texts, cfg.model_copy(update={"cache": False}))
    assert len(calls) == 5 and stored() == 4


@pytest.mark.slow
def test_a_cached_evaluation_scores_what_a_fresh_one_does(tiny_beir, tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHRET_CACHE", str(tmp_path / "cache"))
    cfg = EvalConfig(data=str(tiny_beir), retriever="dense", model="minilm")
    fresh = run_eval(cfg.model_copy(update={"encode": EncodeConfig(cache=False)}), progress=False)
    stored = run_eval(cfg, progress=False)
    cached = run_eval(cfg, progress=False)
    assert len(list((tmp_path / "cache" / "embeddings").glob("*.npy"))) == 1
    assert fresh.metrics == stored.metrics == cached.metrics
    assert fresh.run.keys() == cached.run.keys()
    for qid, docs in fresh.run.items():
        assert cached.run[qid].keys() == docs.keys()
        assert np.allclose([cached.run[qid][d] for d in docs], list(docs.values()), atol=1e-6)


@pytest.mark.slow
def test_bf16_encoding_is_close_to_fp32_and_cached_apart(tiny_beir, tmp_path, monkeypatch):
    """encode.precision=bf16 runs the matrix products in bfloat16 (torch.autocast): unit vectors within a small
    angle of fp32's, float32 out, and never served from (or into) fp32's cache entry."""
    monkeypatch.setenv("SYNTHRET_CACHE", str(tmp_path / "cache"))
    data = load_beir(str(tiny_beir), "test")
    ids = list(data.corpus)
    texts = [doc_text(data.corpus[d]) for d in ids]
    fp32_cfg = EncodeConfig(backend="torch", precision="fp32")
    fp32 = corpus_embeddings(DenseEncoder("minilm", fp32_cfg), ids, texts, fp32_cfg)
    bf16_cfg = EncodeConfig(backend="torch", precision="bf16")
    bf16_encoder = DenseEncoder("minilm", bf16_cfg)
    bf16 = corpus_embeddings(bf16_encoder, ids, texts, bf16_cfg)
    assert bf16.dtype == np.float32 and bf16.shape == fp32.shape and not np.array_equal(bf16, fp32)
    assert np.allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-5)
    assert (bf16 * fp32).sum(axis=1).min() > 0.99  # cosine of each document's two embeddings
    assert len(list((tmp_path / "cache" / "embeddings").glob("*.npy"))) == 2
    assert bf16_encoder.fingerprint() != DenseEncoder("minilm", fp32_cfg).fingerprint()


@pytest.mark.slow
def test_the_openvino_backend_encodes_what_torch_does_and_leaves_a_given_model_alone(tiny_beir, tmp_path, monkeypatch):
    """encode.backend=openvino: the transformer converted to OpenVINO gives torch's fp32 embeddings (bf16 within a
    small angle), through sentence-transformers' own pooling and normalization; each its own cache entry; a model
    object handed in (one in training) keeps its PyTorch module."""
    from sentence_transformers import SentenceTransformer

    from synthret_ray.models import load_sentence_transformer

    monkeypatch.setenv("SYNTHRET_CACHE", str(tmp_path / "cache"))
    data = load_beir(str(tiny_beir), "test")
    ids = list(data.corpus)
    texts = [doc_text(data.corpus[d]) for d in ids]
    model = load_sentence_transformer("minilm", "cpu")
    torch_cfg = EncodeConfig(device="cpu", backend="torch", precision="fp32")
    fp32 = corpus_embeddings(DenseEncoder(model, torch_cfg), ids, texts, torch_cfg)
    ov_cfg = EncodeConfig(device="cpu", backend="openvino", precision="fp32")
    ov = DenseEncoder(model, ov_cfg)
    assert type(ov.model[0].model).__name__ == "OpenVINOForward" and type(model[0].model).__name__ == "BertModel"
    assert np.allclose(corpus_embeddings(ov, ids, texts, ov_cfg), fp32, atol=1e-5)
    bf16_cfg = EncodeConfig(device="cpu", backend="openvino", precision="bf16")
    bf16 = corpus_embeddings(DenseEncoder("minilm", bf16_cfg), ids, texts, bf16_cfg)
    assert not np.array_equal(bf16, fp32) and (bf16 * fp32).sum(axis=1).min() > 0.99
    assert len(list((tmp_path / "cache" / "embeddings").glob("*.npy"))) == 3
    # loaded from disk, the model is converted once: the graph is kept and read back (a handed-in one is not kept)
    assert len(list((tmp_path / "cache" / "openvino").glob("*.xml"))) == 1
    again = DenseEncoder("minilm", bf16_cfg.model_copy(update={"cache": False}))
    assert np.allclose(again.encode(texts, again.document_prefix), bf16, atol=1e-6)
    assert len(list((tmp_path / "cache" / "openvino").glob("*.xml"))) == 1
    assert isinstance(model, SentenceTransformer) and np.allclose(DenseEncoder(model, torch_cfg).encode(texts), fp32)


def test_auto_is_openvino_bf16_on_cpus_that_compute_it_and_torch_fp32_on_gpus():
    """The default (encode.backend=auto, encode.precision=auto): what benchmarks/eval_speed.py measured fastest on
    CPUs within 0.1 nDCG@10 points; GPU encoding stays PyTorch fp32."""
    from synthret_ray.evaluation.openvino import cpu_has_bf16, resolve

    cpu = resolve("auto", "auto", "cpu")
    assert cpu == ("openvino", "bf16" if cpu_has_bf16() else "fp32")
    assert resolve("auto", "auto", "cuda") == ("torch", "fp32")
    assert resolve("torch", "auto", "cpu") == ("torch", "fp32")
    assert resolve("auto", "bf16", "cuda") == ("torch", "bf16") and resolve("openvino", "fp32", "cpu")[1] == "fp32"
    assert resolve("auto", "auto", "cpu", convertible=False) == ("torch", "fp32")  # not a Hugging Face transformer
