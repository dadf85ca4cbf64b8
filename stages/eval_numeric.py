"""Stage eval_numeric: the base model, plain SFT and hybrid-loss SFT on every held-out numeric
question set, each asked with every context numeric_data wrote (none, keyword or semantic
examples, sources, both), from predict_numeric's predictions: the generated number (and the
hybrid run's head) scored by exact match, accuracy within the tolerances, MAE, R² and parse
failures, with paired bootstrap intervals; a report and a predicted-vs-true scatter plot per
setting. Where a prompt shows solved examples, their values' median is scored too (model
"examples"): what the examples say without a model. The validation rows are scored too, for
choosing the regression weight (numeric.regression.weight) without test."""

from __future__ import annotations

from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import run, stage_parser

MODELS = ("base", "sft", "hybrid")  # predict_numeric's runs, in the report's order


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--predictions", required=True,
                        help="predict_numeric's folder: base.jsonl, sft.jsonl, hybrid.jsonl")
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--plot", required=True)
    args = parser.parse_args(argv)
    settings = load_params(args.params).numeric
    from hybridrag.numeric.evaluation import (
        EXAMPLES,
        comparisons,
        example_medians,
        read_predictions,
        sample_rows,
        score_predictions,
    )
    from hybridrag.numeric.report import plot_scatter, write_report
    from hybridrag.numeric.rows import evaluation_rows, share_in_context
    from hybridrag.reporting import describe_machine, write_json

    evaluate, order = settings.evaluate, (*MODELS, EXAMPLES)
    rows = evaluation_rows(Path(args.data), settings.context.evaluate)
    predictions = {(*setting, model): part for model in MODELS for setting, part in
                   read_predictions(Path(args.predictions) / f"{model}.jsonl").items()}
    predictions |= {(*setting, EXAMPLES): example_medians(part) for setting, part in rows.items()
                    if part and all(row.example_values for row in part)}
    questions = {question_set: [r.messages[-2]["content"] for r in part]
                 for (question_set, _), part in rows.items()}
    summary = {
        "questions": {question_set: len(texts) for question_set, texts in questions.items()},
        "answer_in_context": {f"{question_set} / {context}": share_in_context(part)
                              for (question_set, context), part in rows.items()},
        "scores": {f"{question_set} / {context} / {model}": score_predictions(part,
                                                                              evaluate.tolerances)
                   for (question_set, context, model), part in sorted(
                       predictions.items(), key=lambda item: (list(rows).index(item[0][:2]),
                                                              order.index(item[0][2])))},
        "comparisons": comparisons(predictions, evaluate.bootstrap, evaluate.seed),
        "machine": describe_machine()}
    write_json(args.metrics, summary)
    plot_scatter(args.plot, predictions)
    write_report(args.report, summary, evaluate.tolerances,
                 sample_rows(predictions, questions, evaluate.samples))
    for name, readers in summary["scores"].items():
        print(f"eval_numeric: {name}: " + "; ".join(
            f"{reader} MAE {m['mae']}, parse failures {m['parse_failure_rate']}"
            for reader, m in readers.items()))


if __name__ == "__main__":
    run(main)
