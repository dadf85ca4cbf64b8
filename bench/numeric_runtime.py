"""The numeric predictions of one run on transformers and on ONNX Runtime GenAI fp32, in one run
on one machine: how long each takes for the same prompts and whether they give the same replies
(predict_numeric generates on ONNX when answers.runtime is onnx, on the promise that fp32 gives
transformers' greedy tokens; a hybrid run's head reads the hidden states of each runtime's own
prompt pass).

    python -m bench.numeric_runtime       # needs `make repro` first (data/numeric, the runs)

The prompts: the first --per-setting rows of every question set and context predict_numeric
asks (numeric.context.evaluate, and the validation rows), as many for both runtimes. ONNX's time
includes the export (merging the LoRA adapter, the model builder). Results:
bench/results/numeric_runtime.json and .md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from hybridrag.atomic import atomic_write_text
from hybridrag.config import load_params
from hybridrag.layout import BASE_MODEL, PARAMS
from hybridrag.numeric.evaluation import predict_settings
from hybridrag.numeric.rows import evaluation_rows
from hybridrag.reporting import describe_machine, markdown_table, write_json

ROOT = Path(__file__).resolve().parents[1]
RUNTIMES = ("transformers", "onnx")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=ROOT / PARAMS)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "numeric",
                        help="numeric_data's folder")
    parser.add_argument("--base-model", type=Path, default=ROOT / BASE_MODEL)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "numeric" / "hybrid",
                        help="a run (the hybrid one has a regression head) or the base model")
    parser.add_argument("--per-setting", type=int, default=48,
                        help="rows asked of every question set and context")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    settings = load_params(args.params).numeric
    rows = {setting: part[:args.per_setting] for setting, part in
            evaluation_rows(args.data, settings.context.evaluate).items() if part}
    predictions, seconds = {}, {}
    for runtime in RUNTIMES:
        started = time.perf_counter()
        predictions[runtime] = predict_settings(
            args.model, args.base_model, rows, settings.evaluate.max_new_tokens,
            settings.evaluate.batch_size, "cpu", runtime)
        seconds[runtime] = round(time.perf_counter() - started, 1)
    pairs = [(a, b) for setting in rows for a, b in zip(
        predictions["transformers"][setting], predictions["onnx"][setting], strict=True)]
    summary: dict[str, Any] = {
        "machine": describe_machine(), "model": str(args.model.relative_to(ROOT)
                                                   if args.model.is_relative_to(ROOT) else args.model),
        "prompts": len(pairs), "settings": len(rows), "seconds": seconds,
        "speed_vs_transformers": round(seconds["transformers"] / seconds["onnx"], 2),
        "identical_replies": round(sum(a.reply == b.reply for a, b in pairs) / len(pairs), 4),
        "identical_numbers": round(sum(a.generated == b.generated for a, b in pairs) / len(pairs), 4),
        "head_max_difference": max(abs(a.head - b.head) for a, b in pairs)
        if all(a.head is not None and b.head is not None for a, b in pairs) else None}
    write_json(args.out / "numeric_runtime.json", summary)
    atomic_write_text(args.out / "numeric_runtime.md", report(summary))
    print(report(summary))


def report(summary: dict[str, Any]) -> str:
    rows = [[runtime, summary["seconds"][runtime],
             round(summary["prompts"] / summary["seconds"][runtime], 2),
             f"{summary['seconds']['transformers'] / summary['seconds'][runtime]:.2f}x"]
            for runtime in RUNTIMES]
    return "\n".join([
        "# Numeric predictions: transformers against ONNX Runtime GenAI fp32", "",
        f"{summary['machine']}. One run of `python -m bench.numeric_runtime`: `{summary['model']}` "
        f"asked the same {summary['prompts']} prompts ({summary['settings']} question sets and "
        "contexts) on each runtime, greedy, in predict_numeric's batches; ONNX's time includes "
        "the export.", "",
        markdown_table(["runtime", "seconds", "prompts/s", "vs transformers"], rows), "",
        f"Identical replies: {summary['identical_replies']:.1%}; identical numbers: "
        f"{summary['identical_numbers']:.1%}"
        + (f"; the head's values differ by at most {summary['head_max_difference']:.2g}."
           if summary["head_max_difference"] is not None else "."), "",
        "Reproduce: `make bench-numeric-runtime`.", ""])


if __name__ == "__main__":
    main()
