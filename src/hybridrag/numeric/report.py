"""The numeric comparison as a report: per question set, one table (every context and model,
generated numbers and the head's), the paired differences, sample replies, and a
predicted-vs-true scatter plot with a panel per setting."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from hybridrag.atomic import atomic_open, atomic_write_text
from hybridrag.numeric.evaluation import Cell, NumericPrediction
from hybridrag.reporting import markdown_table

COLUMNS = ["questions", "parse_failure_rate", "exact_match", "mae", "r2"]


def results_table(scores: dict[str, dict[str, Any]], tolerances: Sequence[float],
                  answer_in_context: dict[str, float | None]) -> str:
    """scores: "set / context / model" -> {"generated": metrics, "head": metrics?}; one row
    per reader, with the share of questions whose number is in the context."""
    within = [f"within_{t:g}" for t in tolerances]
    header = ["context", "answer in context", "model", "reader", *COLUMNS[:3], *within,
              *COLUMNS[3:]]
    rows = []
    for name, readers in scores.items():
        question_set, context, model = name.split(" / ")
        share = answer_in_context.get(f"{question_set} / {context}")
        for reader, metrics in readers.items():
            rows.append([context, "" if share is None else f"{share:.0%}", model, reader,
                         *(metrics[c] for c in COLUMNS[:3]), *(metrics[w] for w in within),
                         *(metrics[c] for c in COLUMNS[3:])])
    return markdown_table(header, rows)


def plot_scatter(path: str | os.PathLike[str], predictions: dict[Cell, list[NumericPrediction]]
                 ) -> None:
    """Predicted against true value: a row of panels per question set and model, a column per
    context (the head's values in orange)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = sorted({(question_set, model) for question_set, _, model in predictions})
    contexts = list(dict.fromkeys(context for _, context, _ in predictions))
    figure, axes = plt.subplots(max(len(lines), 1), max(len(contexts), 1),
                                figsize=(3.0 * max(len(contexts), 1), 2.8 * max(len(lines), 1)),
                                squeeze=False)
    if not predictions:
        axes[0][0].text(0.5, 0.5, "no held-out questions", ha="center", va="center")
    for row, (question_set, model) in enumerate(lines):
        for column, context in enumerate(contexts):
            axis = axes[row][column]
            rows = predictions.get((question_set, context, model))
            if not rows:
                axis.set_axis_off()
                continue
            targets = [p.target for p in rows]
            low, high = min(targets), max(targets)
            axis.plot([low, high], [low, high], color="grey", linewidth=0.8)
            kept = [(p.target, p.generated) for p in rows if p.generated is not None]
            axis.scatter([t for t, _ in kept], [g for _, g in kept], s=5, label="generated")
            if all(p.head is not None for p in rows):
                axis.scatter(targets, [p.head for p in rows], s=5, color="tab:orange",
                             label="head")
            axis.set_ylim(low - 0.2 * (high - low or 1), high + 0.2 * (high - low or 1))
            axis.set_title(f"{question_set} / {context} / {model}", fontsize=8)
            axis.tick_params(labelsize=7)
    if predictions:
        axes[0][-1].legend(fontsize=7)
    figure.supxlabel("true")
    figure.supylabel("predicted")
    figure.tight_layout()
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)


def write_report(path: str | os.PathLike[str], summary: dict[str, Any], tolerances: Sequence[float],
                 samples: dict[str, list[dict[str, Any]]]) -> None:
    lines = [
        "# Numeric answers: base, plain SFT and hybrid-loss SFT, by the context of the prompt",
        "",
        "Held-out questions of test-split documents, each asked with every context: none; "
        "keyword or semantic (the nearest training questions with their true values, by BM25 or "
        "by the query encoder); sources (the retrieved passages); both (semantic examples and "
        "sources). Answer in context: the share whose number is in what the prompt carries. "
        "Generated: the first number of the greedy reply (none counts as wrong for exact match "
        "and the within-t rates; MAE and R² are over the replies that gave one). Head: the "
        "hybrid run's regression head, read from the same forward pass. Examples: no model, the "
        "median of the values of the solved examples the prompt shows (what they say alone; its "
        "reply lists them). The validation set is "
        "the held-out training documents' rows as they trained (contexts mixed): choose the "
        "regression weight on it, not on test.",
        "",
    ]
    for question_set, count in summary["questions"].items():
        scores = {name: readers for name, readers in summary["scores"].items()
                  if name.startswith(f"{question_set} / ")}
        compared = [[name.split(": ", 1)[1], d["difference"], d["items"],
                     f"{d['ci95'][0]} .. {d['ci95'][1]}"]
                    for name, d in summary["comparisons"].items()
                    if d is not None and name.startswith(f"{question_set}: ")]
        set_samples = samples.get(question_set, [])
        lines += [
            f"## {question_set}: {count} questions",
            "",
            results_table(scores, tolerances, summary["answer_in_context"]),
            "",
            "Paired differences on the same questions (mean, 95% bootstrap interval; negative "
            "absolute error is better):",
            "",
            markdown_table(["comparison", "difference", "questions", "95% interval"], compared),
            "",
        ]
        if set_samples:
            lines += [markdown_table(list(set_samples[0]), [list(s.values()) for s in set_samples]),
                      ""]
    if not summary["questions"]:
        lines += ["0 held-out questions: nothing to compare.", ""]
    lines += [
        f"Scored on {summary['machine']}; the replies: stage predict_numeric, one run per model.",
        "",
        "![predicted against true](numeric_scatter.png)",
        "",
    ]
    atomic_write_text(path, "\n".join(lines))
