"""End to end on a tiny fixture corpus: BM25, dense (in-process and Ray Data actors), faiss kinds, reranking."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import yaml
from typer.testing import CliRunner

from synthret_ray.cli import app
from synthret_ray.config import load_config
from synthret_ray.data import load_beir
from synthret_ray.data.beir import DataFormatError, doc_text
from synthret_ray.evaluation import EvalConfig, run_eval
from synthret_ray.evaluation.metrics import ranked
from synthret_ray.models import load_cross_encoder


def _cfg(root, *overrides: str) -> EvalConfig:
    return load_config(EvalConfig, None, [f"data={root}", *overrides])


def test_bm25_finds_each_answer_and_skips_the_query_own_id(tiny_beir):
    result = run_eval(_cfg(tiny_beir), progress=False)
    assert result.metrics["ndcg_at_10"] == pytest.approx(1.0)
    assert "q3" not in result.run["q3"]
    kept = run_eval(_cfg(tiny_beir, "ignore_identical_ids=false"), progress=False)
    assert ranked(kept.run["q3"])[0][0] == "q3"  # the trap document wins when the convention is off
    assert kept.per_query["q3"]["ndcg_at_10"] < 1.0


def test_max_queries_scores_the_same_seeded_sample_with_each_querys_full_split_scores(tiny_beir):
    full = run_eval(_cfg(tiny_beir), progress=False)
    ignore = run_eval(_cfg(tiny_beir, "max_queries=2", "ignore_identical_ids=false"), progress=False)
    sample = run_eval(_cfg(tiny_beir, "max_queries=2"), progress=False)
    # the draw depends on the ids, the size and the seed only: another system gets the same queries
    assert set(sample.per_query) == set(ignore.per_query) and len(sample.per_query) == 2
    for qid, values in sample.per_query.items():
        assert values == full.per_query[qid]  # the corpus side (BM25's statistics) is the whole split's
    assert sample.summary()["num_queries"] == 2 and sample.summary()["sampled_from"] == 4
    assert "sampled_from" not in full.summary()
    every = run_eval(_cfg(tiny_beir, "max_queries=9"), progress=False)  # more than the split has: all of them
    assert every.per_query == full.per_query and "sampled_from" not in every.summary()
    drawn = {frozenset(load_beir(str(tiny_beir)).sample_queries(2, seed).queries) for seed in range(20)}
    assert len(drawn) > 1  # the seed changes the draw


def test_eval_cli_says_of_how_many_queries_a_sample_was_drawn(tiny_beir):
    result = CliRunner().invoke(app, ["eval", "--data", str(tiny_beir), "-q", "max_queries=3"])
    assert result.exit_code == 0, result.output
    assert "3 of 4" in result.output


def test_candidate_pool_keeps_judged_documents_and_bm25_hits_only(tiny_beir):
    from synthret_ray.evaluation.bm25 import candidate_pool

    data = load_beir(str(tiny_beir))
    judged = {"q2": {"d4": 1}}  # a judged document BM25 does not find for this query
    pool = candidate_pool(replace(data, queries={"q2": data.queries["q2"]}, qrels=judged), depth=1)
    assert set(pool.corpus) == {"d2", "d4"}  # BM25's top 1 for q2 and the judged one; the rest are cut
    assert pool.corpus["d2"] == data.corpus["d2"] and len(data.corpus) > 2


@pytest.mark.slow
def test_dense_minilm(tiny_beir):
    result = run_eval(_cfg(tiny_beir, "retriever=dense", "model=minilm"), progress=False)
    assert result.metrics["ndcg_at_10"] == pytest.approx(1.0)
    assert result.metrics["recall_at_100"] == 1.0
    # Every document is retrieved, except that q3 never retrieves the document that carries its own id.
    assert {q: len(docs) for q, docs in result.run.items()} == {"q1": 7, "q2": 7, "q3": 6, "q4": 7}
    assert "q3" not in result.run["q3"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_indexes_agree_with_exact_search_on_a_tiny_corpus(tiny_beir, kind):
    data = load_beir(str(tiny_beir))
    exact = run_eval(_cfg(tiny_beir, "retriever=dense", "model=minilm"), data, progress=False)
    approx = run_eval(
        _cfg(tiny_beir, "retriever=dense", "model=minilm", f"index.kind={kind}", "index.nlist=2", "index.nprobe=2"),
        data,
        progress=False,
    )
    for qid in exact.run:
        assert [d for d, _ in ranked(approx.run[qid])] == [d for d, _ in ranked(exact.run[qid])]


@pytest.mark.slow
def test_ray_data_actor_encoding_matches_in_process(tiny_beir, ray_local):
    data = load_beir(str(tiny_beir))
    local = run_eval(_cfg(tiny_beir, "retriever=dense", "model=minilm"), data, progress=False)
    streamed = run_eval(
        _cfg(
            tiny_beir,
            "retriever=dense",
            "model=minilm",
            "encode.ray_min_docs=0",
            "encode.num_cpus_per_actor=0.5",
            "encode.ray_batch_rows=3",
        ),
        data,
        progress=False,
    )
    for qid, docs in local.run.items():
        assert [d for d, _ in ranked(streamed.run[qid])] == [d for d, _ in ranked(docs)]
        for did, score in docs.items():
            assert streamed.run[qid][did] == pytest.approx(score, abs=1e-5)


@pytest.mark.slow
def test_synthesis_candidates_are_encoded_by_the_evaluations_encoder_with_their_options(tiny_beir, ray_local):
    """prefer / label candidates and the round-trip filter rank as evaluation does: with encode.ray_min_docs=0
    the corpus streams from the folder's corpus.jsonl through the Ray Data actor pool (it went through the
    driver with default options, whatever was asked), and the candidates are the same."""
    from synthret_ray.synthesis.config import CandidatesConfig
    from synthret_ray.synthesis.inputs import retrieve_candidates

    data = load_beir(str(tiny_beir))
    here = CandidatesConfig(retriever="dense", model="minilm", k=3)
    pooled = here.model_copy(update={"encode": here.encode.model_copy(update={"ray_min_docs": 0, "ray_batch_rows": 3,
                                                                          "num_cpus_per_actor": 0.5})})  # fmt: skip
    local = retrieve_candidates(str(tiny_beir), data.corpus, data.queries, here, progress=False)
    streamed = retrieve_candidates(str(tiny_beir), data.corpus, data.queries, pooled, progress=False)
    assert streamed == local and all(len(docs) == 3 for docs in local.values())
    with pytest.raises(DataFormatError, match="missing/corpus.jsonl: file not found"):  # the pool reads the folder
        retrieve_candidates(str(tiny_beir / "missing"), data.corpus, data.queries, pooled, progress=False)


@pytest.mark.slow
def test_reranking_rescores_only_the_head(tiny_beir, cross_encoder_dir):
    data = load_beir(str(tiny_beir))
    first = run_eval(_cfg(tiny_beir), data, progress=False)
    both = run_eval(_cfg(tiny_beir, f"reranker.model={cross_encoder_dir}", "reranker.depth=2"), data, progress=False)
    assert both.label == f"bm25 >> {cross_encoder_dir}@2"
    for qid, docs in first.run.items():
        before = [d for d, _ in ranked(docs)]
        after = [d for d, _ in ranked(both.run[qid])]
        assert set(after[:2]) == set(before[:2])  # the head is reordered, never replaced
        assert after[2:] == before[2:]  # the tail keeps its first-stage order
    assert both.metrics["recall_at_100"] == first.metrics["recall_at_100"]
    assert "rerank" in both.timings
    # the head is ordered by the cross-encoder's own scores, highest first
    model = load_cross_encoder(cross_encoder_dir)  # as rerank() loads it with the default RerankConfig
    for qid, docs in both.run.items():
        head = [d for d, _ in ranked(docs)[:2]]
        scores = model.predict([(data.queries[qid], doc_text(data.corpus[d])) for d in head])
        assert list(scores) == sorted(scores, reverse=True), (qid, head, scores)
    # weight 0 on the cross-encoder: BM25's ranking, and the cross-encoder is not even loaded
    missing = tiny_beir / "no-such-cross-encoder"
    mixed = run_eval(_cfg(tiny_beir, f"reranker.model={missing}", "reranker.fusion_weight=0"), data, progress=False)
    assert mixed.label == f"bm25 >> {missing}@100 (w=0.0)"
    assert mixed.run == first.run and mixed.metrics == first.metrics


@pytest.mark.slow
def test_cli_writes_results_beside_out_and_config_reproduces(tiny_beir, tmp_path):
    out = tmp_path / "res" / "results.json"
    runner = CliRunner()
    first = runner.invoke(
        app,
        [
            "eval",
            "--data",
            str(tiny_beir),
            "--retriever",
            "dense",
            "--model",
            "minilm",
            "--out",
            str(out),
            "-q",
            "encode.batch_size=2",
        ],
    )
    assert first.exit_code == 0, first.output
    payload = json.loads(out.read_text())
    assert payload["num_queries"] == 4 and payload["system"] == "dense:minilm"
    assert set(payload) >= {"ndcg_at_10", "recall_at_100", "mrr_at_10", "map_at_100", "seconds", "timings"}
    per_query = [json.loads(line) for line in (tmp_path / "res" / "results.per_query.jsonl").read_text().splitlines()]
    assert {r["query_id"] for r in per_query} == {"q1", "q2", "q3", "q4"}
    run_lines = (tmp_path / "res" / "results.run.trec").read_text().splitlines()
    qid, q0, did, rank, score, tag = run_lines[0].split()
    assert (q0, rank, tag) == ("Q0", "1", "dense:minilm")
    config_path = tmp_path / "res" / "results.config.yaml"
    assert yaml.safe_load(config_path.read_text())["encode"]["batch_size"] == 2

    again = runner.invoke(app, ["eval", "--config", str(config_path), "-q", f"out={tmp_path / 'again.json'}"])
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "again.json").read_text())["ndcg_at_10"] == payload["ndcg_at_10"]


def test_cli_user_errors_exit_2_with_the_reason(tiny_beir, tmp_path):
    runner = CliRunner()
    bad_key = runner.invoke(app, ["eval", "--data", str(tiny_beir), "encode.bach_size=3"])
    assert bad_key.exit_code == 2 and "unknown config key 'encode.bach_size'" in bad_key.output
    bad_model = runner.invoke(app, ["eval", "--data", str(tiny_beir), "--retriever", "dense", "--model", "./no/such"])
    assert bad_model.exit_code == 2 and "does not exist" in bad_model.output
    missing = runner.invoke(app, ["eval", "--data", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "corpus.jsonl: file not found" in missing.output
