"""PNG plots of a finished run, written beside ``summary.json``: training curves (loss and dev nDCG@10 per
checkpoint of each training stage) and test nDCG@10 / Recall@100 per system."""

from __future__ import annotations

import io
from typing import Any

from synthret_ray.data import fs

TEST_METRICS = ("ndcg_at_10", "recall_at_100")


def write_plots(summary: dict[str, Any], folder: str) -> list[str]:
    """Write ``training_curves.png`` (when a stage trained) and ``test_metrics.png``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on cluster nodes
    written = []
    curves = {name: stage["history"] for name, stage in summary["stages"].items() if stage.get("history")}
    if curves:
        written.append(_save(_training_curves(curves), fs.join(folder, "training_curves.png")))
    systems = summary["evaluation"]["systems"]
    if systems:  # a corpus without a labelled test split scores nothing
        title = f"{summary['recipe']} on {summary['data']} ({summary['test_split']} split)"
        written.append(_save(_test_metrics(systems, title), fs.join(folder, "test_metrics.png")))
    return written


def _training_curves(curves: dict[str, list[dict[str, Any]]]):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.6), squeeze=False)
    for ax, (stage, history) in zip(axes[0], curves.items(), strict=True):
        trained = [(row["step"], row["loss"]) for row in history if row.get("loss") is not None]  # not step 0
        if trained:
            ax.plot(*zip(*trained, strict=True), "o-", color="tab:blue", label="train loss")
        ax.set(title=stage, xlabel="step")
        ax.set_ylabel("train loss", color="tab:blue")
        dev = [(row["step"], row["ndcg_at_10"]) for row in history if row.get("ndcg_at_10") is not None]
        if dev:
            twin = ax.twinx()
            twin.plot(*zip(*dev, strict=True), "s--", color="tab:orange")
            twin.set_ylabel("dev nDCG@10", color="tab:orange")
            first = next((row["first_stage_ndcg_at_10"] for row in history if "first_stage_ndcg_at_10" in row), None)
            if first is not None:  # a reranker: the line its dev nDCG@10 has to stay above
                twin.axhline(first, linestyle=":", color="tab:gray", label="first stage alone (dev)")
                twin.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def _test_metrics(systems: dict[str, dict[str, Any]], title: str):
    import matplotlib.pyplot as plt

    names = list(systems)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(names) + 2), 3.8))
    width = 0.8 / len(TEST_METRICS)
    for i, metric in enumerate(TEST_METRICS):
        values = [100 * float(systems[n].get(metric, 0.0)) for n in names]
        bars = ax.bar([x + i * width for x in range(len(names))], values, width, label=metric)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks([x + width * (len(TEST_METRICS) - 1) / 2 for x in range(len(names))], names)
    ax.set(title=title, ylabel="score x 100", ylim=(0, 105))
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def _save(fig, uri: str) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    fs.write_bytes(uri, buffer.getvalue())
    return uri
