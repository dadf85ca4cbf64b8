"""Markdown tables, CSV and JSON files, and PNG plots for reports (written atomically), and the
machine a timing was taken on."""

from __future__ import annotations

import csv
import io
import json
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hybridrag.atomic import atomic_open, atomic_write_text


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_csv(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return "" if value is None else str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def metrics_table(means: Mapping[str, Mapping[str, float]], metric_names: Sequence[str]) -> str:
    """Modes as rows, metrics as columns."""
    return markdown_table(["mode", *metric_names],
                          [[mode, *(values.get(m) for m in metric_names)]
                           for mode, values in means.items()])


def save_line_plot(path: str | os.PathLike[str], x: Sequence[float],
                   series: Mapping[str, Sequence[float]], title: str, xlabel: str, ylabel: str,
                   log_x: bool = False) -> None:
    """A PNG line plot, one line per series (dvc's HTML plots need a CDN, PNGs do not)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for name, values in series.items():
        axes.plot(x, values, marker="o", label=name)
    if log_x:
        axes.set_xscale("log")
        axes.set_xticks(list(x), [str(v) for v in x])
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
    axes.grid(alpha=0.3)
    if series:
        axes.legend()
    else:
        axes.text(0.5, 0.5, "no judged queries", ha="center", va="center",
                  transform=axes.transAxes)
    figure.tight_layout()
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png")
    plt.close(figure)


def describe_machine() -> str:
    """CPU model, core count and AVX-512 or not: the same stage can take 3x longer without it,
    so a timing is only comparable with one taken on the same machine."""
    model, avx512 = platform.machine(), False
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name") and model == platform.machine():
                model = line.split(":", 1)[1].strip()
            avx512 = avx512 or (line.startswith("flags") and " avx512f" in line)
    return f"{model}, {os.cpu_count()} CPUs, {'AVX-512' if avx512 else 'no AVX-512'}"
