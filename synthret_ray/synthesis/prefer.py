"""Task ``prefer`` (Syntriever stage 2, alignment): for each query, the stage-1 retriever's top K passages are
compared pairwise by the teacher ("which passage is more relevant, A or B?"). Each pair is asked in both orders
to cancel position bias; when the two answers disagree the pair is a tie. K=5 gives 10 pairs, 20 prompts.

Export: ``align.parquet``, one row per decided pair (query_id, query, preferred, rejected) for the partial
Plackett-Luce stage, which groups rows by query_id.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pyarrow as pa

from synthret_ray.synthesis.task import CHOICES_AB, CandidateTask, Outcome, Part, chat, parse_choice

PROMPT_VERSION = "prefer-v1"
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
    }

    def parts(self, unit: dict[str, Any]) -> list[Part]:
        docs, query = unit["documents"], unit["query"]
        parts = []
        for i, j in combinations(range(len(docs)), 2):
            parts.append(Part(f"{i}-{j}", pair_messages(query, docs[i], docs[j]), CHOICES_AB))
            parts.append(Part(f"{j}-{i}", pair_messages(query, docs[j], docs[i]), CHOICES_AB))
        return parts

    def assemble(self, unit: dict[str, Any], texts: dict[str, str]) -> Outcome:
        firsts, seconds, winners, notes = [], [], [], []
        for i, j in combinations(range(len(unit["documents"])), 2):
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
        fields = {"pair_first": firsts, "pair_second": seconds, "winner": winners}
        if all(w == "unknown" for w in winners):
            return Outcome(fields, "malformed", "no comparison could be read", notes)
        return Outcome(fields, notes=notes)

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
