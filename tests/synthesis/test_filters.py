"""What counts as an echo, by the direction of the text, and copies of the prompt's worked examples."""

from __future__ import annotations

from synthret_ray.synthesis.config import SynthesisConfig
from synthret_ray.synthesis.distill import EXAMPLE_POSITIVE
from synthret_ray.synthesis.filters import reject_reason
from synthret_ray.synthesis.graded import EXAMPLES
from synthret_ray.synthesis.pipeline import make_task
from synthret_ray.synthesis.queries import FEW_SHOT

REVOLUTION_Q = "what were the main causes of the french revolution"
REVOLUTION_P = (
    "The main causes of the French Revolution were a fiscal crisis, food shortages and Enlightenment ideas that "
    "undermined the monarchy's authority."
)
CLAIM_Q = "0-dimensional biomaterials show inductive properties"
CLAIM_P = (
    "Studies report that 0-dimensional biomaterials show inductive properties, promoting bone formation in vivo "
    "when implanted in animal models."
)


def task(name: str, **values):
    return make_task(SynthesisConfig(task=name, input={"data": "-", "queries": "train"}, output_dir="-", **values))


def test_a_passage_that_restates_its_query_is_kept_by_every_passage_writing_task():
    """Pins the echo filter for passages written for a query: any shared 6-word run counted as an echo, so these
    correct positives were dropped ("echo") by graded and distill."""
    for query, passage in ((REVOLUTION_Q, REVOLUTION_P), (CLAIM_Q, CLAIM_P)):
        assert reject_reason(passage, query, 300, echo="restate") is None
        graded = task("graded", levels=[3, 0]).assemble(
            {"query": query}, {"level_3": passage, "level_0": "Chess is a board game for two players on a board."}
        )
        assert graded.status == "ok" and graded.fields["labels"] == [3, 0], graded.notes
        distill = task("distill", negatives=1).assemble(
            {"query": query}, {"cot": "", "positive": passage, "negative_0": "Chess is a board game for two."}
        )
        assert distill.status == "ok" and distill.fields["positive"] == passage


def test_a_near_copy_of_the_query_is_still_an_echo():
    assert reject_reason("The main causes of the French Revolution.", REVOLUTION_Q, 300, echo="restate") == "echo"
    assert reject_reason(CLAIM_Q + " indeed", CLAIM_Q, 300, echo="restate") == "echo"


def test_a_query_that_copies_a_sentence_of_its_passage_is_an_echo():
    passage = "Sourdough is leavened by wild yeast. The starter is fed with flour and water every day."
    assert reject_reason("the starter is fed with flour and water every day", passage, 24) == "echo"
    assert reject_reason("how is sourdough leavened", passage, 24) is None


def test_copies_of_the_prompts_worked_examples_are_filtered():
    """Pins example copies as filtered in every task with few-shot examples (they were kept before)."""
    queries = task("queries").assemble({"passage": "Jupiter is a gas giant."}, {"query": FEW_SHOT[0][1]})
    assert (queries.status, queries.reason) == ("filtered", "example_copy")
    distill = task("distill", negatives=1).assemble(
        {"query": "why is jupiter big"}, {"cot": "", "positive": EXAMPLE_POSITIVE, "negative_0": ""}
    )
    assert (distill.status, distill.reason) == ("filtered", "positive: example_copy")
    graded = task("graded", levels=[3, 0])
    out = graded.assemble({"query": "why is jupiter big"}, {"level_3": EXAMPLES[3], "level_0": EXAMPLES[0]})
    assert out.status == "filtered" and out.notes == ["level_3: example_copy", "level_0: example_copy"]


def test_a_query_sharing_a_technical_passages_terms_is_not_an_echo_but_its_copied_title_is():
    """Pins the query echo for technical corpora: any shared 3-word run counted before, which dropped 313 of 458
    Cranfield queries written by Qwen2.5-Coder-1.5B, most of them good ("pressure distribution on a flat plate");
    now the copied share of the query decides."""
    passage = (
        "pressure distribution induced on a flat plate at a free-stream mach number of 1.39 by rockets exhausting "
        "upstream and downstream . pressure distribution induced on a flat plate at a free-stream mach number of "
        "1.39 by rockets exhausting upstream and downstream . an experimental investigation was made ."
    )
    assert reject_reason("pressure distribution on a flat plate", passage, 24) is None
    title = "tunnel interference effects . tunnel interference effects . the problems of solid blockage are reviewed ."
    assert reject_reason("tunnel interference effects", title, 24) == "echo"  # the title, copied
    assert reject_reason("flat plate at a free-stream mach number of 1.39", passage, 24) == "echo"  # all verbatim
    question = "what is the pressure distribution induced on a flat plate by rockets exhausting upstream?"
    assert reject_reason(question, passage, 24) is None  # its longest copied run: 7 of 15 words


def test_query_instruction_and_examples_replace_the_web_search_ones():
    from synthret_ray.synthesis.config import SynthesisConfig
    from synthret_ray.synthesis.pipeline import make_task

    example = {"passage": "Wing sweep delays the stall of delta wings.", "query": "how does sweep change the stall?"}
    cfg = SynthesisConfig(
        task="queries",
        input={"data": "d"},
        output_dir="o",
        query_instruction="Ask a question.",
        query_examples=[example],
    )
    messages = make_task(cfg).parts({"passage": "Heat transfer to a cylinder."})[0].messages
    assert messages[0] == {"role": "system", "content": "Ask a question."}
    assert [m["content"] for m in messages[1:3]] == [f"Passage: {example['passage']}\nQuery:", example["query"]]
    assert len(messages) == 4  # one worked example, then the passage
    # the worked example's own query is an example copy, as the default ones are
    assert make_task(cfg).assemble({"passage": "Heat."}, {"query": example["query"]}).reason == "example_copy"


def test_examples_per_prompt_gives_each_sample_of_a_passage_its_own_run_of_examples():
    """Greedy samples of one passage differ only by their prompts: sample s shows examples from s * k on (k =
    examples_per_prompt), wrapping; every example still counts for the example-copy filter."""
    examples = [
        {"passage": f"Passage number {i} about libraries.", "query": f"question {i} about libraries?"}
        for i in range(5)
    ]
    cfg = SynthesisConfig(
        task="queries", input={"data": "d"}, output_dir="o", query_examples=examples, per_passage=2,
        examples_per_prompt=2,
    )  # fmt: skip
    queries_task = make_task(cfg)

    def shown(sample: int) -> list[str]:
        messages = queries_task.parts({"passage": "Catalogues.", "sample": sample})[0].messages
        assert messages[-1]["content"] == "Passage: Catalogues.\nQuery:"
        return [m["content"] for m in messages[2:-1:2]]

    assert shown(0) == ["question 0 about libraries?", "question 1 about libraries?"]
    assert shown(1) == ["question 2 about libraries?", "question 3 about libraries?"]
    assert shown(2) == ["question 4 about libraries?", "question 0 about libraries?"]  # wraps
    # a unit without a sample index (per_passage=1 runs made before it) is sample 0
    assert (
        queries_task.parts({"passage": "Catalogues."})[0].messages
        == queries_task.parts({"passage": "Catalogues.", "sample": 0})[0].messages
    )
    assert queries_task.assemble({"passage": "x"}, {"query": "question 4 about libraries?"}).reason == "example_copy"
    # left unset, every example is in every prompt, and the run's fingerprint is the one it had before the option
    unset = SynthesisConfig(task="queries", input={"data": "d"}, output_dir="o", query_examples=examples)
    assert len(make_task(unset).parts({"passage": "Catalogues.", "sample": 1})[0].messages) == 2 + 2 * len(examples)
    assert "examples_per_prompt" not in unset.relevant()
    one_each = cfg.model_copy(update={"examples_per_prompt": 1})  # a valid config: 2 x 1 of the 5 examples
    assert one_each.fingerprint() != cfg.fingerprint()
