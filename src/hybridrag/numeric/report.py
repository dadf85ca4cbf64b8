"""The numeric comparison as a report: one table (every model with and without retrieved
sources, generated numbers and the head's), the paired differences, sample replies, and a
predicted-vs-true scatter plot."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from hybridrag.atomic import atomic_open, atomic_write_text
from hybridrag.numeric.evaluation import NumericPrediction
from hybridrag.reporting import markdown_table

COLUMNS = ["questions", "parse_failure_rate", "exact_match", "mae", "r2"]


def results_table(scores: dict[str, dict[str, Any]], tolerances: Sequence[float]) -> str:
    """scores: "model / context" -> {"generated": metrics, "head": metrics?}."""
    within = [f"within_{t:g}" for t in tolerances]
    header = ["model", "context", "reader", *COLUMNS[:3], *within, *COLUMNS[3:]]
    rows = []
    for name, readers in scores.items():
        model, context = name.split(" / ")
        for reader, metrics in readers.items():
            rows.append([model, context, reader, *(metrics[c] for c in COLUMNS[:3]),
                         *(metrics[w] for w in within), *(metrics[c] for c in COLUMNS[3:])])
    return markdown_table(header, rows)


def plot_scatter(path: str | os.PathLike[str],
                 predictions: dict[tuple[str, str], list[NumericPrediction]]) -> None:
    """Predicted against true year, one panel per model and context (the head's in orange)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted(predictions)
    figure, axes = plt.subplots(1, max(len(keys), 1), figsize=(3.2 * max(len(keys), 1), 3.4),
                                squeeze=False)
    if not keys:
        axes[0][0].text(0.5, 0.5, "no held-out questions", ha="center", va="center")
    for axis, key in zip(axes[0], keys, strict=False):
        rows = predictions[key]
        targets = [p.target for p in rows]
        low, high = min(targets), max(targets)
        axis.plot([low, high], [low, high], color="grey", linewidth=0.8)
        kept = [(p.target, p.generated) for p in rows if p.generated is not None]
        axis.scatter([t for t, _ in kept], [g for _, g in kept], s=6, label="generated")
        if all(p.head is not None for p in rows):
            axis.scatter(targets, [p.head for p in rows], s=6, color="tab:orange", label="head")
        axis.set_ylim(low - 0.2 * (high - low), high + 0.2 * (high - low))
        axis.set_title(f"{key[0]} / {key[1]}", fontsize=9)
        axis.set_xlabel("true")
    axes[0][0].set_ylabel("predicted")
    if keys:
        axes[0][-1].legend(fontsize=7)
    figure.tight_layout()
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=110)
    plt.close(figure)


def write_report(path: str | os.PathLike[str], summary: dict[str, Any], tolerances: Sequence[float],
                 samples: list[dict[str, Any]]) -> None:
    lines = [
        "# Numeric answers: base, plain SFT and hybrid-loss SFT, with and without sources",
        "",
        f"{summary['questions']} held-out questions (test-split documents); "
        f"{summary['answer_in_sources']:.0%} of them have their year in the retrieved sources. "
        "Generated: the first number of the greedy reply (none counts as wrong for exact match "
        "and the within-t rates; MAE and R² are over the replies that gave one). Head: the "
        "hybrid run's regression head, read from the same forward pass.",
        "",
        results_table(summary["scores"], tolerances),
        "",
        "Paired differences on the same questions (mean, 95% bootstrap interval; negative "
        "absolute error is better):",
        "",
        markdown_table(["comparison", "difference", "questions", "95% interval"],
                       [[name, d["difference"], d["items"], f"{d['ci95'][0]} .. {d['ci95'][1]}"]
                        for name, d in summary["comparisons"].items() if d is not None]),
        "",
        f"Time ({summary['machine']}): {summary['seconds']} s for every model and context.",
        "",
        "![predicted against true](numeric_scatter.png)",
        "",
        "## Samples",
        "",
        markdown_table(["question", "true", *[k for k in samples[0] if k not in ("question", "true")]]
                       if samples else ["question"],
                       [list(s.values()) for s in samples]),
        "",
    ]
    atomic_write_text(path, "\n".join(lines))
