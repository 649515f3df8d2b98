"""Each task's prompts and its assembly of hand-written model answers into rows and training files."""

from __future__ import annotations

import pytest

from synthret_ray.config import ConfigError, load_config
from synthret_ray.synthesis.config import SynthesisConfig
from synthret_ray.synthesis.pipeline import make_task

QUERY = "what causes ocean tides"
SOURCE = "Tidal forces: the Moon's gravity raises a bulge of water on the near and far sides of the Earth."
POSITIVE = "Tides are caused by the gravitational pull of the Moon and the Sun on the oceans of the Earth."
NEGATIVE_1 = "Ocean liners cross the Atlantic in about a week, carrying passengers between ports."
NEGATIVE_2 = "Surfing is popular on coasts with strong waves, especially during the winter months."


def cfg(task: str, **values) -> SynthesisConfig:
    values.setdefault("input", {"data": "unused", "queries": "train"})
    return SynthesisConfig(task=task, output_dir="unused", **values)


def test_distill_group_is_the_source_passage_the_positive_and_the_reasoning():
    """Pins the paper's stage-1 group: positives = [p_i (the query's labelled passage), p+, q_cot] with q_cot the
    reasoning alone. The code before wrote q_cot as "<query> Let's think step by step. <reasoning>" (an echo of the
    query that takes the log-sum-exp numerator's gradient) and never exported p_i."""
    task = make_task(cfg("distill", negatives=3))
    assert "known_positives" in task.columns and task.uses_judged  # inputs load p_i for every unit
    unit = {"id": "u", "query_id": "q", "query": QUERY, "known_positives": [SOURCE]}
    assert [p.key for p in task.parts(unit)] == ["cot", "positive", "negative_0", "negative_1", "negative_2"]
    texts = {
        "cot": "The query asks why the sea level rises and falls twice a day.",
        "positive": f"Passage: {POSITIVE}",
        "negative_0": NEGATIVE_1,
        "negative_1": NEGATIVE_1.upper(),  # a duplicate once normalized
        "negative_2": "ok",  # too short to be a passage
    }
    out = task.assemble(unit, texts)
    assert out.status == "ok"
    assert out.fields["cot_query"] == "The query asks why the sea level rises and falls twice a day."
    assert out.fields["positive"] == POSITIVE
    assert out.fields["negatives"] == [NEGATIVE_1]
    assert sorted(out.notes) == ["negative: duplicate", "negative: fewer than 5 words"]
    row = {**unit, **out.fields}
    group = {"query": QUERY, "positives": [SOURCE, POSITIVE, out.fields["cot_query"]], "negatives": [NEGATIVE_1]}
    assert task.export([row])["distill.parquet"] == [group]


def test_the_one_positive_baseline_takes_the_labelled_document_not_the_reasoning():
    """Pins `infonce` on distill data: it keeps positives[:1], which was q_cot (the query against its own echo)."""
    from synthret_ray.synthesis.distill import training_rows
    from synthret_ray.training.batching import collate_group
    from synthret_ray.training.config import GroupConfig

    row = {"query": QUERY, "known_positives": [SOURCE], "cot_query": "reasoning", "positive": POSITIVE}
    groups = training_rows([{**row, "negatives": []}, {**row, "known_positives": [], "negatives": []}], bool)
    batch = collate_group(groups, "distill", "infonce", GroupConfig())
    kept = [batch.docs[int(batch.slots[i, 0])] for i in range(2)]
    assert kept == [SOURCE, POSITIVE]  # without p_i, the synthetic positive: a document either way


def test_distill_without_usable_positive_is_malformed_and_keeps_its_reason():
    task = make_task(cfg("distill", negatives=1))
    unit = {"id": "u", "query_id": "q", "query": QUERY}
    out = task.assemble(unit, {"cot": "", "positive": "", "negative_0": NEGATIVE_1})
    assert (out.status, out.reason) == ("malformed", "positive: no text")
    loop = task.assemble(
        unit, {"cot": "", "positive": "tides and tides and tides and tides", "negative_0": NEGATIVE_1}
    )
    assert (loop.status, loop.reason) == ("filtered", "positive: repetitive")


def test_verify_yes_keeps_the_positive_and_no_relabels_it_as_negative():
    """Pins the export after verification: a rejected p+ leaves p_i and q_cot as positives (it left q_cot alone
    before) and becomes the first hard negative."""
    task = make_task(cfg("verify", input={"data": "unused", "source_run": "unused"}, judge="text"))
    row = {"query": QUERY, "cot_query": "cot", "positive": POSITIVE, "negatives": [NEGATIVE_1]}
    row["known_positives"] = [SOURCE]
    assert task.assemble(row, {"verdict": "Yes."}).fields == {"verdict": "yes", "p_yes": None}
    assert task.assemble(row, {"verdict": "maybe"}).status == "malformed"
    files = task.export([{**row, "verdict": "yes"}, {**row, "verdict": "no"}])["distill.parquet"]
    assert files[0] == {"query": QUERY, "positives": [SOURCE, POSITIVE, "cot"], "negatives": [NEGATIVE_1]}
    assert files[1] == {"query": QUERY, "positives": [SOURCE, "cot"], "negatives": [POSITIVE, NEGATIVE_1]}
    # rejected p+, no p_i and no q_cot: nothing left to learn from, so no training row (it broke stage 1 before)
    bare = {**row, "cot_query": None, "known_positives": [], "verdict": "no"}
    assert task.export([bare])["distill.parquet"] == []


def test_graded_labels_are_the_levels_and_one_usable_level_is_filtered():
    task = make_task(cfg("graded"))
    unit = {"id": "u", "query_id": "q", "query": QUERY}
    assert [p.key for p in task.parts(unit)] == ["level_3", "level_2", "level_1", "level_0"]
    texts = {"level_3": POSITIVE, "level_2": POSITIVE, "level_1": NEGATIVE_2, "level_0": NEGATIVE_1}
    out = task.assemble(unit, texts)
    assert out.fields == {"documents": [POSITIVE, NEGATIVE_2, NEGATIVE_1], "labels": [3, 1, 0]}
    assert out.notes == ["level_2: duplicate"]
    lonely = task.assemble(unit, {"level_3": POSITIVE, "level_2": "", "level_1": "", "level_0": ""})
    assert (lonely.status, lonely.reason) == ("filtered", "fewer than two usable levels")
    # the judged passage opens the list at the top level, so one usable teacher level is enough
    empty = {"level_3": "", "level_2": "", "level_1": ""}
    anchored = task.assemble({**unit, "known_positives": [POSITIVE]}, {**empty, "level_0": NEGATIVE_1})
    assert anchored.status == "ok" and anchored.fields == {"documents": [POSITIVE, NEGATIVE_1], "labels": [3, 0]}


def test_label_builds_lce_groups_from_relevant_and_irrelevant_candidates():
    task = make_task(cfg("label", judge="text"))
    unit = {
        "id": "u",
        "query_id": "q",
        "query": QUERY,
        "doc_ids": ["a", "b", "c"],
        "documents": [POSITIVE, NEGATIVE_1, NEGATIVE_2],
    }
    out = task.assemble(unit, {"c0": "yes", "c1": "No", "c2": "hmm"})
    assert out.fields == {"labels": [1, 0, -1], "p_relevant": [None, None, None]}
    assert out.notes == ["candidate: unreadable label"]
    groups = task.export([{**unit, **out.fields}])["reranker.parquet"]
    assert groups == [{"query": QUERY, "positive": POSITIVE, "negatives": [NEGATIVE_1]}]
    # a known positive (the passage the query was written from) wins over the teacher's "no"
    said_no = task.assemble(unit, {"c0": "no", "c1": "no", "c2": "no"}).fields
    groups = task.export([{**unit, **said_no, "known_positives": [POSITIVE]}])["reranker.parquet"]
    assert groups == [{"query": QUERY, "positive": POSITIVE, "negatives": [NEGATIVE_1, NEGATIVE_2]}]
    graded = make_task(cfg("label", graded_labels=True, judge="text"))
    assert graded.assemble(unit, {"c0": "3", "c1": "1", "c2": "2"}).fields["labels"] == [3, 1, 2]


def test_prefer_asks_both_orders_and_marks_disagreement_as_tie():
    task = make_task(cfg("prefer", judge="text"))
    docs = ["d0 text", "d1 text", "d2 text"]
    unit = {"id": "u", "query_id": "q", "query": QUERY, "doc_ids": ["a", "b", "c"], "documents": docs}
    keys = [p.key for p in task.parts(unit)]
    assert keys == ["0-1", "1-0", "0-2", "2-0", "1-2", "2-1"]
    # 0 vs 1: both orders prefer 0; 0 vs 2: both pick "A" (position bias) -> tie; 1 vs 2: unreadable.
    texts = {"0-1": "A", "1-0": "B", "0-2": "A", "2-0": "A", "1-2": "B", "2-1": "neither"}
    out = task.assemble(unit, texts)
    assert out.fields["winner"] == ["first", "tie", "unknown"]
    rows = task.export([{**unit, **out.fields}])["align.parquet"]
    assert rows == [{"query_id": "q", "query": QUERY, "preferred": "d0 text", "rejected": "d1 text"}]
    second = task.assemble(unit, {**texts, "0-1": "Passage B", "1-0": "Passage A"})
    assert second.fields["winner"][0] == "second"


def test_verify_decides_by_the_probability_of_yes():
    """judge=probability: the verdict is P(yes) against judge_threshold, whatever word was sampled; without
    probabilities (an engine that gives none) the text decides and the row says so."""
    task = make_task(cfg("verify", input={"data": "unused", "source_run": "unused"}, judge_threshold=0.3))
    row = {"query": QUERY, "cot_query": None, "positive": POSITIVE, "negatives": [], "known_positives": []}
    said_no = task.assemble(row, {"verdict": "no"}, {"verdict": {"yes": 0.35, "no": 0.65}})
    assert said_no.fields == {"verdict": "yes", "p_yes": 0.35}
    below = task.assemble(row, {"verdict": "yes"}, {"verdict": {"yes": 0.25, "no": 0.75}})
    assert below.fields == {"verdict": "no", "p_yes": 0.25}
    from_text = task.assemble(row, {"verdict": "yes"}, {})
    assert from_text.fields == {"verdict": "yes", "p_yes": None}
    assert "judge: no probability, read from text" in from_text.notes
    question = make_task(cfg("verify", input={"data": "unused", "source_run": "unused"}, judge_question="Same topic?"))
    messages = question.parts(row)[0].messages
    assert [m["content"].endswith("Same topic?") for m in messages if m["role"] == "user"] == [True] * 3


def test_label_by_probability_thresholds_p_yes_and_takes_the_expected_grade():
    unit = {"id": "u", "query_id": "q", "query": QUERY, "doc_ids": ["a", "b"], "documents": [POSITIVE, NEGATIVE_1]}
    task = make_task(cfg("label", judge_threshold=0.6))
    probs = {"c0": {"yes": 0.7, "no": 0.3}, "c1": {"yes": 0.55, "no": 0.45}}
    out = task.assemble(unit, {"c0": "no", "c1": "yes"}, probs)
    assert out.fields == {"labels": [1, 0], "p_relevant": [0.7, 0.55]}
    graded = make_task(cfg("label", graded_labels=True))
    # expected grades: 0*0.1 + 1*0.2 + 2*0.3 + 3*0.4 = 2.0 -> 2;  0.6*0 + 0.3*1 + 0.1*2 = 0.5 -> 0 (round half even)
    probs = {"c0": {"0": 0.1, "1": 0.2, "2": 0.3, "3": 0.4}, "c1": {"0": 0.6, "1": 0.3, "2": 0.1, "3": 0.0}}
    out = graded.assemble(unit, {"c0": "1", "c1": "3"}, probs)
    assert out.fields["labels"] == [2, 0]
    assert out.fields["p_relevant"] == pytest.approx([0.7, 0.1])


def test_prefer_by_probability_averages_both_orders_and_ties_inside_the_margin():
    task = make_task(cfg("prefer", prefer_margin=0.1))
    unit = {"id": "u", "query_id": "q", "query": QUERY, "doc_ids": ["a", "b", "c"], "documents": ["x", "y", "z"]}
    probs = {
        # 0 vs 1: P(0 wins) = (0.9 + 0.7) / 2 = 0.8 -> first
        "0-1": {"A": 0.9, "B": 0.1}, "1-0": {"A": 0.3, "B": 0.7},
        # 0 vs 2: a judge that says A whatever the order: (0.9 + 0.1) / 2 = 0.5 -> tie
        "0-2": {"A": 0.9, "B": 0.1}, "2-0": {"A": 0.9, "B": 0.1},
        # 1 vs 2: (0.2 + 0.3) / 2 = 0.25 -> second
        "1-2": {"A": 0.2, "B": 0.8}, "2-1": {"A": 0.7, "B": 0.3},
    }  # fmt: skip
    out = task.assemble(unit, dict.fromkeys(probs, "A"), probs)
    assert out.fields["winner"] == ["first", "tie", "second"]
    assert out.fields["p_first"] == pytest.approx([0.8, 0.5, 0.25])


def test_probability_judging_is_refused_for_openai_endpoints():
    openai = {"kind": "openai", "model": "m", "base_url": "http://localhost:1/v1"}
    with pytest.raises(ValueError, match="judge: 'probability' .* engine.kind=openai .* set judge=text"):
        cfg("label", engine=openai)
    assert cfg("label", engine=openai, judge="text").judge == "text"
    assert cfg("queries", input={"data": "unused"}, engine=openai).judge == "probability"  # not a judging task


def test_queries_parse_filter_and_export_beir_files():
    task = make_task(cfg("queries"))
    unit = {"id": "u1", "doc_id": "d1", "passage": POSITIVE, "sample": 0}
    assert task.assemble(unit, {"query": "Query: why do tides happen"}).fields == {"query": "why do tides happen"}
    assert task.assemble(unit, {"query": POSITIVE}).reason == "echo"
    files = task.export([{**unit, "query": "why do tides happen"}])
    assert files["queries.jsonl"] == [{"_id": "q-u1", "text": "why do tides happen"}]
    assert files["qrels/train.tsv"] == [{"query-id": "q-u1", "corpus-id": "d1", "score": 1}]


def test_config_refuses_test_queries_and_reports_keys():
    with pytest.raises(ValueError, match="input.queries: 'test' is input.test_split, which never feeds synthesis"):
        cfg("distill", input={"data": "x", "queries": "test"})
    with pytest.raises(ValueError, match="input.queries: 'dl20' is input.test_split"):
        cfg("distill", input={"data": "x", "queries": "dl20", "test_split": "dl20"})
    with pytest.raises(ValueError, match="per_passage > 1 needs temperature > 0 or examples_per_prompt"):
        cfg("queries", per_passage=2)
    four = [{"passage": f"p {i}", "query": f"q {i}"} for i in range(4)]
    cfg("queries", per_passage=2, query_examples=four, examples_per_prompt=2)  # two distinct greedy prompts
    with pytest.raises(ValueError, match="per_passage=3 greedy samples of 2 examples each need 6 query_examples"):
        cfg("queries", per_passage=3, query_examples=four, examples_per_prompt=2)
    with pytest.raises(ValueError, match="examples_per_prompt: 3 is more than the 2 query_examples"):
        cfg("queries", examples_per_prompt=3)  # the two default examples
    base = {"task": "queries", "input": {"data": "x"}, "output_dir": "o"}
    c = load_config(
        SynthesisConfig,
        base=base,
        overrides=["engine.kind=openai", "engine.base_url=http://h/v1", "engine.model=m", "engine.qps=2"],
    )
    assert (c.engine.kind, c.engine.qps) == ("openai", 2)
    assert load_config(SynthesisConfig, base=base, overrides=["engine.batch_size=3"]).engine.kind == "vllm"
    with pytest.raises(ConfigError, match="engine.base_url: Field required"):
        load_config(SynthesisConfig, base=base, overrides=["engine.kind=openai", "engine.model=m"])
    with pytest.raises(ConfigError, match="unknown config key 'engine.bogus'"):
        load_config(SynthesisConfig, base=base, overrides=["engine.bogus=1"])


def test_fingerprint_ignores_resources_but_not_sampling():
    a = cfg("distill")
    resources = {"concurrency": 2, "batch_size": 3, "kv_cache_gib": 8, "enforce_eager": False, "device": "cpu"}
    assert a.fingerprint() == cfg("distill", engine=resources, shard_rows=5).fingerprint()
    assert a.fingerprint() != cfg("distill", engine={"model": "other"}).fingerprint()
    assert a.fingerprint() != cfg("distill", sampling={"temperature": 0.7}).fingerprint()


def test_label_and_graded_units_carry_the_judged_documents_of_their_queries(tmp_path):
    from synthret_ray.data.beir import doc_text
    from synthret_ray.synthesis.inputs import build_units
    from tests.conftest import TINY_CORPUS, write_beir

    def text(doc_id: str) -> str:
        title, body = TINY_CORPUS[doc_id]
        return doc_text({"title": title, "text": body})

    data = write_beir(tmp_path / "data", qrels={"q1": {"d1": 1}, "q2": {"d2": 1, "d4": 0}}, split="train")
    # the queries as a file beside its qrels (what the recipe's split stage writes), or as the dataset's split
    split = write_beir(tmp_path / "split", corpus={}, queries={"q1": "sourdough"}, qrels={"q1": {"d1": 1}})
    by_file = cfg("label", input={"data": str(data), "queries": str(split / "queries.jsonl")}, candidates={"k": 2})
    units, _ = build_units(by_file, make_task(by_file))
    assert [(u["query_id"], u["known_positives"]) for u in units] == [("q1", [text("d1")])]
    by_split = cfg("label", input={"data": str(data), "queries": "train"}, candidates={"k": 2})
    units, _ = build_units(by_split, make_task(by_split))
    # a grade-0 judgment is not a positive
    assert {u["query_id"]: u["known_positives"] for u in units} == {"q1": [text("d1")], "q2": [text("d2")]}
    graded = cfg("graded", input={"data": str(data), "queries": str(split / "queries.jsonl")})
    units, _ = build_units(graded, make_task(graded))
    assert [(u["query_id"], u["known_positives"]) for u in units] == [("q1", [text("d1")])]
    synthetic_only = cfg("graded", input={"data": str(data), "queries": "train"}, judged_in_list=False)
    units, _ = build_units(synthetic_only, make_task(synthetic_only))
    assert [u["known_positives"] for u in units] == [[], []]


def test_limit_draws_a_seeded_sample_of_passages_not_the_first_ones(tmp_path):
    """Pins `input.limit` as a seeded random sample (it took the first N passages of the file)."""
    from synthret_ray.synthesis.inputs import build_units
    from tests.conftest import write_beir

    corpus = {f"d{i:02d}": ("T", f"passage number {i} about topic {i}") for i in range(40)}
    data = write_beir(tmp_path / "b", corpus=corpus, split="train")

    def sampled(seed: int) -> list[str]:
        c = SynthesisConfig(task="queries", input={"data": str(data), "limit": 5, "sample_seed": seed}, output_dir="-")
        return [u["doc_id"] for u in build_units(c, make_task(c))[0]]

    first = sampled(0)
    assert len(first) == 5 and first != sorted(corpus)[:5] and first == sorted(first)  # file order kept
    assert sampled(0) == first and sampled(1) != first
    # a larger sample holds the smaller one (random.sample drew 1,300 and 1,400 of 5,000 by different methods)
    from synthret_ray.synthesis.inputs import seeded_sample

    items = list(range(5000))
    assert set(seeded_sample(items, 1300, 0)) <= set(seeded_sample(items, 1400, 0))
    assert len(seeded_sample(items, 1400, 0)) == 1400 and seeded_sample(items, None, 0) == items


def test_judge_reports_measure_the_label_judge_against_known_positives():
    """stats.json's judge entry: the share of known positives (the passage a query was written from) judged
    relevant, and the AUC of known positives against the other candidates: pairs (0.7 vs 0.2) win, (0.7 vs 0.9)
    lose, (0.4 vs 0.2) win, (0.4 vs 0.9) lose -> 2 of 4 = 0.5."""
    task = make_task(cfg("label"))
    rows = [
        {"documents": ["k", "x", "y"], "labels": [1, 0, 1], "p_relevant": [0.7, 0.2, 0.9], "known_positives": ["k"]},
        {"documents": ["x", "k2", "y"], "labels": [0, 0, 1], "p_relevant": [0.2, 0.4, 0.9], "known_positives": ["k2"]},
    ]
    report = task.judge_report(rows)
    assert report == {
        "candidates": 6,
        "share_relevant": 0.5,
        "known_positives_in_candidates": 2,
        "known_judged_relevant": 0.5,
        "auc_known_vs_other": 0.5,
    }
    prefer = make_task(cfg("prefer")).judge_report([{"winner": ["first", "tie"], "p_first": [0.8, 0.5]}])
    assert prefer["share_first"] == prefer["share_tie"] == 0.5 and prefer["mean_confidence"] == 0.15
