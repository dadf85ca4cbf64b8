"""Stage eval_numeric: the base model, plain SFT and hybrid-loss SFT on the held-out numeric
questions, each without and with the retrieved sources: the generated number (and the hybrid
run's head) scored by exact match, accuracy within the tolerances, MAE, R² and parse failures,
with paired bootstrap intervals; a report and a predicted-vs-true scatter plot."""

from __future__ import annotations

import time
from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--base-model", required=True)
    parser.add_argument("--sft", required=True, help="the cross_entropy run")
    parser.add_argument("--hybrid", required=True)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--plot", required=True)
    args = parser.parse_args(argv)
    settings = load_params(args.params).numeric
    from hybridrag.device import pick_device
    from hybridrag.numeric.evaluation import comparisons, evaluate_models, sample_rows, score_predictions
    from hybridrag.numeric.report import plot_scatter, write_report
    from hybridrag.numeric.rows import read_rows
    from hybridrag.reporting import describe_machine, write_json

    evaluate = settings.evaluate
    rows = {"none": read_rows(Path(args.data) / "test_none.jsonl"),
            "retrieved": read_rows(Path(args.data) / "test_retrieved.jsonl")}
    models = {"base": Path(args.base_model), "sft": Path(args.sft), "hybrid": Path(args.hybrid)}
    start = time.perf_counter()
    predictions = evaluate_models(models, Path(args.base_model), rows, evaluate.max_new_tokens,
                                  evaluate.batch_size, pick_device(settings.train.device))
    stated = [r.answer_in_sources for r in rows["retrieved"]]
    summary = {
        "questions": len(rows["none"]),
        "answer_in_sources": sum(stated) / len(stated) if stated else 0.0,
        "scores": {f"{model} / {context}": score_predictions(part, evaluate.tolerances)
                   for (model, context), part in sorted(predictions.items())},
        "comparisons": comparisons(predictions, evaluate.bootstrap, evaluate.seed),
        "seconds": round(time.perf_counter() - start, 1), "machine": describe_machine()}
    write_json(args.metrics, summary)
    plot_scatter(args.plot, predictions)
    write_report(args.report, summary, evaluate.tolerances,
                 sample_rows(predictions, [r.messages[-2]["content"] for r in rows["none"]],
                             evaluate.samples))
    for name, readers in summary["scores"].items():
        print(f"eval_numeric: {name}: " + "; ".join(
            f"{reader} MAE {m['mae']}, parse failures {m['parse_failure_rate']}"
            for reader, m in readers.items()))


if __name__ == "__main__":
    run(main)
