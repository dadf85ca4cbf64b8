"""Stage infer_compare: base vs every fine-tuned variant on held-out conversations."""

from __future__ import annotations

import csv
import gc
import json
import time
from pathlib import Path
from typing import Any

from hybridrag.atomic import atomic_write_text
from hybridrag.config import SFT_METHODS, SftParams, load_params
from hybridrag.reporting import markdown_table, save_line_plot, write_json
from hybridrag.stage import run, stage_parser

TRAINING_COLUMNS = ("train_seconds", "tokens_per_second", "peak_memory_mb", "trainable_parameters")


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--base-model", default="models/base")
    parser.add_argument("--models", default="models/sft", help="folder of the trained variants")
    parser.add_argument("--data", default="data/sft")
    parser.add_argument("--train-metrics", default="metrics/sft")
    parser.add_argument("--live", default="dvclive", help="DVCLive folders, one per method")
    parser.add_argument("--metrics", default="metrics/sft/compare.json")
    parser.add_argument("--reports", default="reports")
    args = parser.parse_args(argv)
    params = load_params(args.params).sft
    from hybridrag.sft.conversations import read_split

    test = read_split(Path(args.data) / "test.jsonl")[:params.compare.max_test_conversations]
    variants = {"base": Path(args.base_model)} | {
        method: Path(args.models) / method for method in SFT_METHODS if method in params.methods}
    results, samples = {}, {}
    for name, folder in variants.items():
        results[name], samples[name] = score_variant(folder, Path(args.base_model), test, params)
        training = Path(args.train_metrics) / f"train_{name}.json"
        if training.is_file():
            results[name].update({k: v for k, v in json.loads(training.read_text()).items()
                                  if k in TRAINING_COLUMNS})
        print(f"{name:>14}: loss {results[name]['loss']:.4f}  ROUGE-L {results[name]['rouge_l']:.4f}")
    write_json(args.metrics, {"test_conversations": len(test), **results})
    reports = Path(args.reports)
    curves = loss_curves(Path(args.live), [m for m in variants if m != "base"])
    if curves:
        steps = sorted({step for points in curves.values() for step in points})
        save_line_plot(reports / "sft_loss_curves.png", steps,
                       {m: [points.get(s, float("nan")) for s in steps] for m, points in curves.items()},
                       "Training loss (assistant tokens)", "step", "loss")
    atomic_write_text(reports / "sft_results.md", report(results, samples, len(test), params))


def score_variant(folder: Path, base_dir: Path, test: list, params: SftParams
                  ) -> tuple[dict[str, Any], list[Any]]:
    """Held-out loss and regenerated replies of one model, then free its memory."""
    from hybridrag.sft.evaluation import heldout_scores, regenerate_last_replies, reply_scores
    from hybridrag.sft.models import load_tokenizer, load_trained

    tokenizer = load_tokenizer(base_dir)
    started = time.perf_counter()
    model = load_trained(folder, base_dir, params.train.device)
    scores = heldout_scores(model, tokenizer, test, params.train.max_length, params.compare.batch_size)
    replies = regenerate_last_replies(model, tokenizer, test[:params.compare.generation_samples],
                                      params.compare.max_new_tokens)
    scores.update(reply_scores(replies), eval_seconds=round(time.perf_counter() - started, 2))
    del model
    gc.collect()
    return scores, replies


def loss_curves(live_root: Path, methods: list[str]) -> dict[str, dict[int, float]]:
    """Per-step training loss of each method from its DVCLive TSV."""
    curves = {}
    for method in methods:
        tsv = live_root / method / "plots" / "metrics" / "train" / "loss.tsv"
        if tsv.is_file():
            with tsv.open() as handle:
                curves[method] = {int(row["step"]): float(row["loss"])
                                  for row in csv.DictReader(handle, delimiter="\t")}
    return curves


def one_line(text: str) -> str:
    return " ".join(text.split()) or "(empty)"


def report(results: dict[str, dict[str, Any]], samples: dict[str, list[Any]], n_test: int,
           params: SftParams) -> str:
    columns = ["loss", "perplexity", "token_accuracy", "rouge_l", "reply_words", "stopped_share",
               *TRAINING_COLUMNS]
    rows = [[name, *(values.get(c) for c in columns)] for name, values in results.items()]
    lines = [
        "# Fine-tuning: base vs LoRA vs QLoRA vs prompt / prefix tuning vs full",
        "",
        f"Held-out test split: {n_test} conversations (loss, perplexity and token accuracy on "
        f"assistant tokens, up to {params.train.max_length} tokens each); the last reply of "
        f"{params.compare.generation_samples} of them regenerated greedily (up to "
        f"{params.compare.max_new_tokens} tokens) and scored with ROUGE-L against the human "
        f"reply. Every run: {params.train.max_steps} steps of {params.train.batch_size} "
        f"conversations. Peak memory is the training process's peak (RSS on CPU, allocated on "
        "GPU) during training.",
        "",
        markdown_table(["model", *columns], rows),
        "![Training loss per method](sft_loss_curves.png)",
        "",
        "## Sample replies",
        "",
    ]
    for index, base_reply in enumerate(samples.get("base", [])):
        lines += [f"**{index + 1}. User:** {one_line(base_reply.prompt)}", "",
                  f"*Human reply:* {one_line(base_reply.reference)}", ""]
        lines += [f"- **{name}** {'' if replies[index].stopped else '(no end-of-turn) '}"
                  f"{one_line(replies[index].generated)}" for name, replies in samples.items()]
        lines.append("")
    lines += ["Reproduce: `make repro` (or `dvc repro infer_compare`).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    run(main)
