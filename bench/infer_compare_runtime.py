"""infer_compare's comparison of models on transformers fp32 against ONNX Runtime GenAI
(answers.precision), in one run on one machine: the stage's own work (every model loaded, its
held-out loss in PyTorch, exported where the runtime is onnx, and its replies to the held-out
questions over given sources, scored) on the same questions, one runtime after the other.

    python -m bench.infer_compare_runtime     # needs `make repro` first (the chat models, data/sft)

The questions are the stage's (sft.compare.questions for base and answers.chat_model,
other_questions for the rest); the RAG-loop half of the stage (the same models over retrieved
sources, about a third of its generation) and the product row are left out, so the ratio is the
given-sources part's. Results: bench/results/infer_compare_runtime.json and .md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from hybridrag.atomic import atomic_write_text
from hybridrag.config import load_params
from hybridrag.jsonl import read_jsonl
from hybridrag.layout import BASE_MODEL, DPO_MODEL, PARAMS, SFT_DATA, SFT_MODELS
from hybridrag.reporting import describe_machine, markdown_table, write_json
from hybridrag.sft.compare import compare_models, compared_models

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=ROOT / PARAMS)
    parser.add_argument("--base-model", type=Path, default=ROOT / BASE_MODEL)
    parser.add_argument("--models", type=Path, default=ROOT / SFT_MODELS)
    parser.add_argument("--dpo", type=Path, default=ROOT / DPO_MODEL)
    parser.add_argument("--data", type=Path, default=ROOT / SFT_DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    params = load_params(args.params)
    sft, answers = params.sft, params.answers
    rows = [row for _, row in read_jsonl(args.data / "test.jsonl")]
    models = compared_models(args.base_model, args.models, args.dpo, sft.methods)
    runtimes = {"transformers fp32": answers.updated(runtime="transformers", precision="fp32"),
                f"onnx {answers.precision}": answers.updated(runtime="onnx")}
    summary: dict[str, Any] = {"machine": describe_machine(), "questions": sft.compare.questions,
                               "other_questions": sft.compare.other_questions,
                               "models": list(models), "runtimes": {}}
    for name, settings in runtimes.items():
        started = time.perf_counter()
        results = compare_models(models, args.base_model, {"test": rows}, sft, settings,
                                 settings.chat_model)["test"].results
        summary["runtimes"][name] = {
            "seconds": round(time.perf_counter() - started, 1),
            "model_seconds": {m: results[m]["eval_seconds"] for m in models},
            "overall_f1": {m: results[m].get("overall_f1") for m in models}}
        print(f"{name}: {summary['runtimes'][name]}", flush=True)
    first, second = (summary["runtimes"][name]["seconds"] for name in runtimes)
    summary["speed_vs_transformers"] = round(first / second, 2)
    write_json(args.out / "infer_compare_runtime.json", summary)
    atomic_write_text(args.out / "infer_compare_runtime.md", report(summary))
    print(report(summary))


def report(summary: dict[str, Any]) -> str:
    runtimes = summary["runtimes"]
    rows = [[model, *(r["model_seconds"][model] for r in runtimes.values()),
             *(r["overall_f1"][model] for r in runtimes.values())] for model in summary["models"]]
    rows.append(["all (seconds)", *(r["seconds"] for r in runtimes.values()), "", ""])
    return "\n".join([
        "# infer_compare's work on transformers against ONNX Runtime GenAI", "",
        f"{summary['machine']}. One run of `python -m bench.infer_compare_runtime`: every model "
        "loaded, its held-out loss (PyTorch), its export where the runtime is ONNX, and its "
        f"replies to the stage's held-out questions over given sources ({summary['questions']} "
        f"questions for base and the product's model, {summary['other_questions']} for the "
        "others, with their no-answer variants), scored; the RAG-loop half of the stage and the "
        "product row left out. One runtime after the other.", "",
        markdown_table(["model", *(f"seconds, {n}" for n in runtimes),
                        *(f"overall F1, {n}" for n in runtimes)], rows), "",
        f"ONNX Runtime GenAI: **{summary['speed_vs_transformers']:.2f}x** transformers for the "
        "same work.", "",
        "Reproduce: `make bench-infer-compare-runtime`.", ""])


if __name__ == "__main__":
    main()
