"""Stage predict_numeric: one model (the base model, plain SFT or the hybrid-loss run) asked
every held-out numeric question in every context numeric_data wrote, and the validation rows:
its greedy replies, their numbers and (hybrid) its head's values, for eval_numeric to score.
One stage per model, so that the regression-weight sweep asks only the hybrid run again. With
answers.runtime onnx a model without a head generates on ONNX Runtime GenAI in fp32 (the tokens
transformers gives)."""

from __future__ import annotations

from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", required=True, help="numeric_data's folder")
    parser.add_argument("--base-model", required=True)
    parser.add_argument("--model", required=True, help="the base model, or a run's folder")
    parser.add_argument("--out", required=True, help="the predictions (JSONL)")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    settings = params.numeric
    from hybridrag.device import pick_device
    from hybridrag.numeric.evaluation import predict_settings, write_predictions
    from hybridrag.numeric.rows import evaluation_rows

    rows = evaluation_rows(Path(args.data), settings.context.evaluate)
    predictions = predict_settings(Path(args.model), Path(args.base_model), rows,
                                   settings.evaluate.max_new_tokens, settings.evaluate.batch_size,
                                   pick_device(settings.train.device), params.answers.runtime)
    write_predictions(args.out, predictions)
    print(f"predict_numeric: {sum(map(len, predictions.values()))} predictions of {args.model} "
          f"in {len(predictions)} settings -> {args.out}")


if __name__ == "__main__":
    run(main)
