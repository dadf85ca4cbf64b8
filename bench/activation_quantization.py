"""Int8 compute for the chat model: the product's int8 export (8-bit weights, MatMulNBits) against
W8A8 (int8 weights per channel, int8 activations per token, ONNX Runtime's MatMulInteger), plain
and SmoothQuant-smoothed (hybridrag.onnx_w8a8), in one run, on the same prompts and machine.

    python -m bench.activation_quantization    # after `make repro` (models, data/sft)

Every row is the product's chat model (answers.chat_model) exported to ONNX fp32 first; the W8A8
rows quantize that export, the smoothed one calibrated on --calibration training prompts. Speed
and quality are measured as bench.generation measures them (its functions): reading-sized SQuAD
prompts (first token one at a time with the LM head on the last position where the graph allows
it, replies/s at batch 1 and 16) and the one scorer on the grounded validation items. Results:
bench/results/activation_quantization.json, .md.
"""

from __future__ import annotations

import argparse
from itertools import islice
from pathlib import Path
from typing import Any

from bench.generation import RESAMPLES, quality, quality_table, speed, workload, workload_parser
from hybridrag.atomic import atomic_write_text
from hybridrag.chat.generation import prompt_ids
from hybridrag.chat.onnx import OnnxGenerator, export_run
from hybridrag.jsonl import read_jsonl
from hybridrag.layout import SFT_DATA
from hybridrag.onnx_w8a8 import write_w8a8_export
from hybridrag.reporting import markdown_table, write_json

ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    parser = workload_parser(__doc__)
    parser.add_argument("--train", type=Path, default=ROOT / SFT_DATA / "train.jsonl",
                        help="conversations whose prompts calibrate the smoothing")
    parser.add_argument("--calibration", type=int, default=32,
                        help="training prompts whose activations set the smoothing")
    parser.add_argument("--alpha", type=float, default=0.5, help="SmoothQuant's migration strength")
    return parser.parse_args()


def exports(chat_model: Path, args: argparse.Namespace, tokenizer: Any) -> dict[str, Any]:
    """A loader per row, each export written once under --work."""
    folders = {}
    for precision in ("fp32", "int8"):
        folders[f"onnx {precision}"] = args.work / f"{chat_model.name}-{precision}"
        if not (folders[f"onnx {precision}"] / "run.json").is_file():
            export_run(chat_model, args.base_model, folders[f"onnx {precision}"], precision)
    calibration = [prompt_ids(tokenizer, row["messages"][:2])
                   for _, row in islice(read_jsonl(args.train), args.calibration)]
    for name, prompts in (("w8a8", None), (f"w8a8 smoothed {args.alpha:g}", calibration)):
        folder = args.work / f"{chat_model.name}-{name.replace(' ', '-')}"
        write_w8a8_export(folders["onnx fp32"], folder, prompts, args.alpha)
        folders[f"onnx {name}"] = folder
    return {name: lambda folder=folder: OnnxGenerator(folder) for name, folder in folders.items()}


def report(summary: dict[str, Any]) -> str:
    base = summary["speed"]["onnx fp32"]
    speed_rows = [[name, row["first_token_p50"], row["batch1_replies_per_second"],
                   f"{row['batch1_replies_per_second'] / base['batch1_replies_per_second']:.2f}x",
                   row["batch16_replies_per_second"],
                   f"{row['batch16_replies_per_second'] / base['batch16_replies_per_second']:.2f}x",
                   row["identical"], row["answer_f1"]] for name, row in summary["speed"].items()]
    return "\n".join([
        "# Int8 compute for the chat model: 8-bit weights against W8A8", "",
        f"Machine: {summary['machine']}. One run of `python -m bench.activation_quantization`; "
        f"every row is `{summary['chat_model']}` exported to ONNX, on the same prompts, one "
        "after the other. `onnx int8` is the product's export (the model builder's 8-bit "
        "weights, MatMulNBits); the W8A8 rows quantize the fp32 export's products to int8 "
        "weights per output channel and int8 activations per token (hybridrag.onnx_w8a8), the "
        f"smoothed one with SmoothQuant over {summary['calibration']} training prompts. Ratios "
        "are against onnx fp32 in this run.", "",
        f"## Speed: {summary['prompts']} reading-sized prompts (median "
        f"{summary['prompt_tokens_median']} tokens), up to {summary['max_new_tokens']} new tokens",
        "",
        f"First token: p50 over {summary['single']} prompts streamed one at a time (seconds); "
        f"batch 1: those answered one by one; batch 16: all {summary['prompts']}. `identical`: "
        "batch-16 replies equal token for token to fp32's; `answer F1`: their SQuAD token F1.",
        "",
        markdown_table(["export", "first token s", "batch 1 replies/s", "vs fp32",
                        "batch 16 replies/s", "vs fp32", "identical", "answer F1"], speed_rows),
        "",
        f"## Quality: {summary['validation_items']} held-out validation items", "",
        "The one scorer's rates (answers.max_new_tokens, batch answers.batch_size); "
        "`identical`: replies equal to fp32's text; `vs fp32`: the paired difference from onnx "
        f"fp32 with its 95% bootstrap interval ({RESAMPLES} resamples).", "",
        quality_table(summary["quality"], "export"), ""])


def main() -> None:
    args = parse_args()
    work = workload(args)
    if work is None:
        return
    loaders = exports(work.chat_model, args, work.tokenizer)
    summary: dict[str, Any] = {
        **work.describe(args), "calibration": args.calibration, "alpha": args.alpha,
        "speed": speed(loaders, work.prompts, work.golds, args),
        "quality": quality(loaders, work.validation, args, work.params.answers)}
    write_json(args.out / "activation_quantization.json", summary)
    atomic_write_text(args.out / "activation_quantization.md", report(summary))
    print(report(summary))


if __name__ == "__main__":
    main()
