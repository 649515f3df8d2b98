"""The per-worker loop in one process (LocalRuntime, no Ray): every stage trains, exports, resumes, stops on NaN."""

from __future__ import annotations

import pytest
import torch

from synthret_ray.config import load_config
from synthret_ray.evaluation import EvalConfig, run_eval
from synthret_ray.training.config import TrainConfig
from synthret_ray.training.loop import NonFiniteLossError, build_loss, build_model
from synthret_ray.training.steps import batch_loss, collate
from synthret_ray.training.trainer import train_local
from tests.training.conftest import training_rows


def _cfg(stage: str, data, dev=None, *extra: str) -> TrainConfig:
    overrides = [
        f"stage={stage}",
        f"train_data={data}",
        "optim.batch_size=4",
        "optim.max_seq_length=64",
        "group.reranker_negatives=3",
        *extra,
    ]
    if dev is not None:
        overrides += [f"eval.data={dev}", "eval.depth=5"]
    return load_config(TrainConfig, None, overrides)


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["pairs", "distill", "align", "listwise", "reranker"])
def test_each_stage_trains_and_exports_a_loadable_model(stage, stage_file, dev_beir, tmp_path):
    from sentence_transformers import CrossEncoder, SentenceTransformer

    extra = ["loss.regularization=0.5"] if stage == "align" else []
    runtime = train_local(_cfg(stage, stage_file(stage), dev_beir, *extra), tmp_path / "ckpt", "cpu")
    start, metrics = runtime.history  # eval.at_start: the starting model is scored and kept as a candidate
    assert start["step"] == 0 and "loss" not in start and 0.0 <= start["ndcg_at_10"] <= 1.0
    assert metrics["step"] == 2 and metrics["epoch"] == 1 and 0.0 <= metrics["ndcg_at_10"] <= 1.0
    model_dir = runtime.checkpoints[-1] / "model"
    if stage == "reranker":
        scores = CrossEncoder(str(model_dir)).predict([("sourdough", "bread"), ("sourdough", "planet")])
        assert scores.shape == (2,)
        # BM25 alone on the same dev queries, beside every report: what the reranker must beat
        bm25 = run_eval(EvalConfig(data=str(dev_beir), split="dev", retriever="bm25"), progress=False)
        assert start["first_stage_ndcg_at_10"] == metrics["first_stage_ndcg_at_10"] == bm25.metrics["ndcg_at_10"]
    else:
        assert SentenceTransformer(str(model_dir)).encode(["hello"]).shape == (1, 384)
        assert "first_stage_ndcg_at_10" not in metrics


@pytest.mark.slow
def test_a_rerankers_dev_evaluator_reranks_a_dense_first_stage(dev_beir, cross_encoder_dir):
    from synthret_ray.evaluation.runner import retrieve
    from synthret_ray.training.loop import DevEvaluator

    dense = ["eval.first_stage.retriever=dense", "eval.first_stage.model=minilm", "optim.max_seq_length=256"]
    cfg = _cfg("reranker", "unused.parquet", dev_beir, *dense)
    evaluator = DevEvaluator(cfg)
    report = evaluator(build_model(cfg, cross_encoder_dir))
    dense_dev = {"data": str(dev_beir), "split": "dev", "retriever": "dense", "model": "minilm"}
    first = EvalConfig(**dense_dev)
    assert evaluator.first_run == retrieve(first, evaluator.data, progress=False)  # MiniLM's top 100, not BM25's
    # the same numbers `synthret eval` gives for MiniLM alone and for MiniLM's top 5 reranked by this cross-encoder
    alone = run_eval(first, progress=False).metrics
    reranked = run_eval(EvalConfig(**dense_dev, reranker={"model": cross_encoder_dir, "depth": 5}), progress=False)
    assert report["first_stage_ndcg_at_10"] == pytest.approx(alone["ndcg_at_10"], abs=1e-9)
    assert report["ndcg_at_10"] == pytest.approx(reranked.metrics["ndcg_at_10"], abs=1e-6)
    assert report["cross_encoder_ndcg_at_10"] == report["ndcg_at_10"] and report["fusion_weight"] == 1.0


@pytest.mark.slow
def test_a_reranker_checkpoint_is_scored_as_it_will_be_deployed(dev_beir, cross_encoder_dir):
    """Pins selection as deployment: the recipe's depth and fused weight (it scored the cross-encoder alone on a
    top 20 and then deployed it fused on a top 100)."""
    from synthret_ray.evaluation.fusion import FUSION_GRID
    from synthret_ray.training.loop import DevEvaluator

    dev = {"data": str(dev_beir), "split": "dev", "retriever": "bm25"}
    for weight in (0.3, "dev"):
        cfg = _cfg("reranker", "unused.parquet", dev_beir, "eval.depth=5", f"eval.fusion_weight={weight}")
        report = DevEvaluator(cfg)(build_model(cfg, cross_encoder_dir))
        tried = FUSION_GRID if weight == "dev" else (weight,)
        fused = {
            w: run_eval(
                EvalConfig(**dev, reranker={"model": cross_encoder_dir, "depth": 5, "fusion_weight": w}),
                progress=False,
            ).metrics["ndcg_at_10"]
            for w in tried
        }
        best = max(fused.values())
        assert report["ndcg_at_10"] == pytest.approx(best, abs=1e-6)
        assert fused[report["fusion_weight"]] == pytest.approx(best, abs=1e-6)


def _fixed_batch_loss(cfg: TrainConfig, source: str) -> float:
    torch.manual_seed(0)
    model = build_model(cfg, source).eval()
    with torch.no_grad():
        return batch_loss(cfg, model, build_loss(cfg), collate(cfg, training_rows(cfg.stage)), None).item()


@pytest.mark.slow
def test_training_lowers_the_loss(stage_file, tmp_path):
    cfg = _cfg(
        "distill",
        stage_file("distill"),
        None,
        "optim.epochs=3",
        "optim.lr=1e-4",
        "optim.batch_size=8",
        "optim.warmup_ratio=0",
    )
    runtime = train_local(cfg, tmp_path / "ckpt", "cpu")
    before = _fixed_batch_loss(cfg, "minilm")
    after = _fixed_batch_loss(cfg, str(runtime.checkpoints[-1] / "model"))
    # relative: with equal documents masked, no copy of a positive puts a floor of log 2 under the loss any more
    assert after < before / 2, (before, after)


@pytest.mark.slow
def test_resume_reproduces_an_uninterrupted_run(stage_file, tmp_path):
    from sentence_transformers import SentenceTransformer

    cfg = _cfg("pairs", stage_file("pairs"), None, "optim.epochs=2", "checkpoint.every_n_steps=1")
    full = train_local(cfg, tmp_path / "full", "cpu")
    assert [m["step"] for m in full.history] == [1, 2, 3, 4]
    resumed = train_local(cfg, tmp_path / "resumed", "cpu", resume_from=full.checkpoints[0])
    assert [m["step"] for m in resumed.history] == [2, 3, 4]
    assert {m["resumed_from_step"] for m in resumed.history} == {1}
    texts = ["how is sourdough leavened", "largest planet"]
    a = SentenceTransformer(str(full.checkpoints[-1] / "model")).encode(texts)
    b = SentenceTransformer(str(resumed.checkpoints[-1] / "model")).encode(texts)
    assert abs(a - b).max() < 1e-5


@pytest.mark.slow
def test_nan_loss_stops_with_the_step_and_keeps_the_last_checkpoint(stage_file, tmp_path, monkeypatch):
    from synthret_ray.training.losses import SyntrieverDistillLoss

    original, calls = SyntrieverDistillLoss.forward, {"n": 0}

    def nan_on_third_step(self, *args):  # fault injection: the third step's loss is NaN
        calls["n"] += 1
        loss = original(self, *args)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(SyntrieverDistillLoss, "forward", nan_on_third_step)
    cfg = _cfg("distill", stage_file("distill"), None, "optim.epochs=2", "checkpoint.every_n_steps=1")
    root = tmp_path / "ckpt"
    with pytest.raises(
        NonFiniteLossError, match=r"loss is nan at epoch 1, step 2 \(batch 0 of the epoch, first row 't"
    ):
        train_local(cfg, root, "cpu")
    assert sorted(p.name for p in root.iterdir()) == ["checkpoint_000000", "checkpoint_000001"]


def test_the_export_scores_and_prefixes_as_training_did(tmp_path, minilm_path):
    """Pins the export's similarity (training is cos / tau; the base model's `dot` was kept) and the query /
    document prefixes (applied at evaluation, not in training): now the same in training, dev and evaluation."""
    import json

    from sentence_transformers import SentenceTransformer

    from synthret_ray.evaluation.config import EncodeConfig
    from synthret_ray.evaluation.dense import DenseEncoder
    from synthret_ray.training.models.biencoder import BiEncoder

    base = tmp_path / "dot-base"  # a base model that scores with the dot product and has a query prompt
    BiEncoder(minilm_path).st.save(str(base))
    settings = json.loads((base / "config_sentence_transformers.json").read_text())
    settings.update(similarity_fn_name="dot", prompts={"query": "q: ", "document": ""})
    (base / "config_sentence_transformers.json").write_text(json.dumps(settings))
    own = BiEncoder(str(base), 64)  # no prefixes given: the base model's own prompts, in training too
    assert own.prefixes == {"query": "q: ", "document": ""} and own.st.similarity_fn_name == "cosine"
    model = BiEncoder(str(base), 64, query_prefix="query: ", document_prefix="passage: ")
    assert model.st.similarity_fn_name == "cosine"  # already for dev evaluation, before any export
    with torch.no_grad():
        trained = model(["tides"], kind="query")[0]
        plain = model.st.encode(["query: tides"], convert_to_tensor=True)[0]
    assert torch.allclose(trained, plain, atol=1e-5)  # training embeds the prefixed query
    model.save(tmp_path / "export")
    exported = SentenceTransformer(str(tmp_path / "export"))
    assert exported.similarity_fn_name == "cosine"
    assert exported.prompts["query"] == "query: " and exported.prompts["document"] == "passage: "
    encoder = DenseEncoder(str(tmp_path / "export"), EncodeConfig())
    assert (encoder.query_prefix, encoder.document_prefix, encoder.normalize) == ("query: ", "passage: ", True)
    override = DenseEncoder(str(tmp_path / "export"), EncodeConfig(query_prefix="q: "))
    assert override.query_prefix == "q: "  # the config still wins
