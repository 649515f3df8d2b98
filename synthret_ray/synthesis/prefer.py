"""Task ``prefer`` (Syntriever stage 2, alignment): for each query, the stage-1 retriever's top K passages are
compared pairwise by the teacher ("which passage is more relevant, A or B?"). Each pair is asked in both orders
to cancel position bias. With ``judge=probability`` (the default) P(first wins) is the mean of P(A) when it is
shown first and P(B) when it is shown second; beyond 0.5 +- ``prefer_margin`` the pair is decided, else it is a
tie (``p_first`` keeps it). With ``judge=text``, when the two answers disagree the pair is a tie. K=5 gives 10
pairs, 20 prompts.

Export: ``align.parquet``, one row per decided pair (query_id, query, preferred, rejected) for the partial
Plackett-Luce stage, which groups rows by query_id.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pyarrow as pa

from synthret_ray.synthesis.task import (
    CHOICES_AB,
    NO_PROBABILITY,
    CandidateTask,
    Outcome,
    Part,
    Probs,
    chat,
    judged_probability,
    parse_choice,
)

PROMPT_VERSION = "prefer-v2"  # v2: pairs decided by the answer probabilities of both orders
SYSTEM = "You compare search results. Reply with one letter: A or B."
EXAMPLES = [
    (
        "Query: what makes sourdough bread rise\nPassage A: Sourdough has a tangy flavour and a chewy crust.\n"
        "Passage B: Wild yeast in the starter releases carbon dioxide, which makes the dough rise.\n"
        "Which passage is more relevant to the query?",
        "B",
    ),
    (
        "Query: largest coral reef system\nPassage A: The Great Barrier Reef is the largest coral reef system.\n"
        "Passage B: Coral reefs are built by colonies of tiny animals.\nWhich passage is more relevant to the query?",
        "A",
    ),
]


def pair_messages(query: str, first: str, second: str) -> list[dict[str, str]]:
    user = f"Query: {query}\nPassage A: {first}\nPassage B: {second}\nWhich passage is more relevant to the query?"
    return chat(SYSTEM, EXAMPLES, user)


class PreferTask(CandidateTask):
    name = "prefer"
    prompt_version = PROMPT_VERSION
    max_new_tokens = 4
    columns = {
        **CandidateTask.columns,
        "pair_first": pa.list_(pa.int64()),  # candidate indices of each pair
        "pair_second": pa.list_(pa.int64()),
        "winner": pa.list_(pa.string()),  # "first", "second", "tie" (orders disagree) or "unknown"
        "p_first": pa.list_(pa.float64()),  # P(first wins) over both orders; null where judged by text
    }

    def parts(self, unit: dict[str, Any]) -> list[Part]:
        docs, query = unit["documents"], unit["query"]
        parts = []
        for i, j in combinations(range(len(docs)), 2):
            parts.append(Part(f"{i}-{j}", pair_messages(query, docs[i], docs[j]), CHOICES_AB))
            parts.append(Part(f"{j}-{i}", pair_messages(query, docs[j], docs[i]), CHOICES_AB))
        return parts

    def assemble(self, unit: dict[str, Any], texts: dict[str, str], probs: Probs | None = None) -> Outcome:
        firsts, seconds, winners, p_firsts, notes = [], [], [], [], []
        margin = self.cfg.prefer_margin
        for i, j in combinations(range(len(unit["documents"])), 2):
            shown_first = judged_probability(self.cfg, probs, f"{i}-{j}", "A")
            shown_second = judged_probability(self.cfg, probs, f"{j}-{i}", "B")
            p_first = None
            if shown_first is not None and shown_second is not None:
                p_first = (shown_first + shown_second) / 2
                winner = "first" if p_first > 0.5 + margin else "second" if p_first < 0.5 - margin else "tie"
            else:
                notes += [NO_PROBABILITY] if self.cfg.judge == "probability" else []
                forward, backward = parse_choice(texts[f"{i}-{j}"]), parse_choice(texts[f"{j}-{i}"])
                if forward is None or backward is None:
                    winner = "unknown"
                elif (forward == "A") == (backward == "B"):  # both orders name the same passage
                    winner = "first" if forward == "A" else "second"
                else:
                    winner = "tie"
            notes.append(f"pair: {winner}")
            firsts.append(i)
            seconds.append(j)
            winners.append(winner)
            p_firsts.append(p_first)
        fields = {"pair_first": firsts, "pair_second": seconds, "winner": winners, "p_first": p_firsts}
        if all(w == "unknown" for w in winners):
            return Outcome(fields, "malformed", "no comparison could be read", notes)
        return Outcome(fields, notes=notes)

    def judge_report(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        winners = [w for row in rows for w in row["winner"]]
        confidence = [abs(p - 0.5) for row in rows for p in row.get("p_first") or [] if p is not None]
        return {
            "pairs": len(winners),
            **{
                f"share_{w}": round(winners.count(w) / len(winners), 4) if winners else None
                for w in ("first", "second", "tie", "unknown")
            },
            "mean_confidence": round(sum(confidence) / len(confidence), 4) if confidence else None,
        }

    def export(self, rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        out = []
        for row in rows:
            docs = row["documents"]
            for i, j, winner in zip(row["pair_first"], row["pair_second"], row["winner"], strict=True):
                if winner in ("first", "second"):
                    good, bad = (i, j) if winner == "first" else (j, i)
                    out.append(
                        {
                            "query_id": row["query_id"],
                            "query": row["query"],
                            "preferred": docs[good],
                            "rejected": docs[bad],
                        }
                    )
        return {"align.parquet": out}
