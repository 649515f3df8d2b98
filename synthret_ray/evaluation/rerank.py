"""Second stage: a cross-encoder rescores the first stage's top ``depth`` documents of each query."""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthret_ray.data.beir import BeirData, doc_text
from synthret_ray.evaluation.config import RerankConfig
from synthret_ray.evaluation.fusion import fuse
from synthret_ray.evaluation.metrics import Run, ranked
from synthret_ray.models import load_cross_encoder

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder


def cross_encoder_scores(
    data: BeirData, first_stage: Run, cfg: RerankConfig, progress: bool = True, model: CrossEncoder | None = None
) -> Run:
    """The cross-encoder's score of each query's top ``cfg.depth`` first-stage documents. ``model`` overrides
    ``cfg.model`` with a loaded cross-encoder (evaluation during training)."""
    if model is None:
        model = load_cross_encoder(cfg.model, cfg.device, cfg.max_length)
    heads = {qid: [d for d, _ in ranked(docs)[: cfg.depth]] for qid, docs in first_stage.items()}
    pairs = [(data.queries[qid], doc_text(data.corpus[d])) for qid, docs in heads.items() for d in docs]
    scores = (
        model.predict(pairs, batch_size=cfg.batch_size, show_progress_bar=progress, convert_to_numpy=True)
        if pairs
        else []
    )
    out: Run = {}
    pos = 0
    for qid, head in heads.items():
        out[qid] = {d: float(s) for d, s in zip(head, scores[pos : pos + len(head)], strict=True)}
        pos += len(head)
    return out


def rerank(
    data: BeirData, first_stage: Run, cfg: RerankConfig, progress: bool = True, model: CrossEncoder | None = None
) -> Run:
    """Each query's top ``cfg.depth`` ordered by the cross-encoder (mixed with the first stage when
    ``cfg.fusion_weight`` < 1); deeper documents keep their first-stage order below every reranked one, so
    recall@100 is unchanged when ``depth`` < 100. With ``cfg.fusion_weight`` 0 the result is the first stage's
    ranking, so it is returned as is and the cross-encoder is not run (nor loaded)."""
    if cfg.fusion_weight == 0.0:
        return first_stage
    return fuse(first_stage, cross_encoder_scores(data, first_stage, cfg, progress, model), cfg.fusion_weight)
