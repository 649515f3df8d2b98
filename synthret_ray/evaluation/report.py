"""Terminal tables of evaluation results (rich)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from synthret_ray.evaluation.metrics import METRIC_NAMES

HEADERS = {"ndcg_at_10": "nDCG@10", "recall_at_100": "R@100", "mrr_at_10": "MRR@10", "map_at_100": "MAP@100"}


def metrics_table(rows: Iterable[dict], title: str = "Retrieval quality") -> Table:
    """One row per system: the four metrics (in points, x100), query count and seconds."""
    table = Table(title=title)
    table.add_column("system", overflow="fold")
    for col in (*(HEADERS[m] for m in METRIC_NAMES), "queries", "seconds"):
        table.add_column(col, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(
            str(row["system"]),
            *(f"{100 * row[m]:.2f}" for m in METRIC_NAMES),
            # a sample (max_queries) says of how many
            f"{row['num_queries']} of {row['sampled_from']}" if "sampled_from" in row else str(row["num_queries"]),
            f"{row['seconds']:.1f}",
        )
    return table


def print_metrics(rows: Iterable[dict], title: str = "Retrieval quality", console: Console | None = None) -> None:
    (console or Console()).print(metrics_table(rows, title))
