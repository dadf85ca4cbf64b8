"""Answers at CPU speed: the chat model on transformers (fp32) and on ONNX Runtime GenAI (fp32,
int8, int4), in one run, on the same prompts and machine.

    python -m bench.generation       # after `make repro` (models/base, data/sft, the chat model)

Speed: the base model on reading-sized prompts (a SQuAD 2.0 question with its paragraph and two
other paragraphs of the article, 160 tokens each; about 500 prompt tokens), greedy, up to
--max-new-tokens: time to the first streamed token and to the whole reply (one at a time), and
replies/s and tokens/s at batch 1 and at batch 16 (an ONNX export runs with its LM head on each
row's last position, hybridrag.chat.last_position, as everything in the product does). Quality:
the product's chat model (answers.chat_model) on the held-out validation conversations
(data/sft/validation.jsonl: reading questions over given sources, by default), scored by the one
scorer (reading: answer F1, exact match, overall F1), each runtime's paired difference from
transformers fp32 on the main metric and answer F1 (95% bootstrap), and how many replies are
identical to transformers'; the base model's SQuAD answer F1 on the speed prompts. The SQuAD
file is read from ../shared/benchmarks (SKIPPED when absent). Results:
bench/results/generation.json, .md.
"""

from __future__ import annotations

import argparse
import gc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybridrag.answers.scoring import summarize
from hybridrag.atomic import atomic_write_text
from hybridrag.chat.generation import ChatGenerator, TransformersGenerator, prompt_ids
from hybridrag.chat.models import load_tokenizer
from hybridrag.chat.onnx import OnnxGenerator, export_run
from hybridrag.config import load_params
from hybridrag.jsonl import read_jsonl
from hybridrag.layout import BASE_MODEL, DPO_MODEL, PARAMS, SFT_DATA, SFT_MODELS, chat_model_folder
from hybridrag.reporting import describe_machine, markdown_table, write_json
from hybridrag.sft.compare import answer_items, held_out, paired_difference
from support.generation_bench import (
    agreement,
    reading_prompts,
    reading_scores,
    time_first_tokens,
    time_replies,
)

ROOT = Path(__file__).resolve().parents[1]
SCORER_COLUMNS = ["cites_relevant", "cites_relevant_not_first", "abstains_unanswerable",
                  "false_abstention", "well_formed"]
READING_COLUMNS = ["f1", "exact_match", "overall_f1"]  # reading items: SQuAD answer scores
RESAMPLES, SEED = 1000, 13  # the paired intervals against transformers fp32


def parse_args() -> argparse.Namespace:
    return workload_parser(__doc__).parse_args()


def workload_parser(description: str | None) -> argparse.ArgumentParser:
    """The arguments of a generation bench's `workload` and where it writes."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=ROOT / PARAMS)
    parser.add_argument("--base-model", type=Path, default=ROOT / BASE_MODEL)
    parser.add_argument("--validation", type=Path, default=ROOT / SFT_DATA / "validation.jsonl")
    parser.add_argument("--squad", type=Path, default=ROOT.parent / "shared" / "benchmarks" /
                        "squad2" / "squad-v2.0-12-articles.json")
    parser.add_argument("--prompts", type=int, default=32, help="reading prompts for batch 16")
    parser.add_argument("--single", type=int, default=8,
                        help="of them, streamed and answered one at a time")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work" / "generation")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    return parser


def generators(model_dir: Path, base_dir: Path, work: Path) -> dict[str, Any]:
    """A loader per runtime for the chat model in `model_dir` (exported once per precision)."""
    loaders: dict[str, Any] = {"transformers fp32": lambda: TransformersGenerator.load(
        model_dir, base_dir, "cpu")}
    for precision in ("fp32", "int8", "int4"):
        folder = work / f"{model_dir.name}-{precision}"
        if not (folder / "run.json").is_file():
            export_run(model_dir, base_dir, folder, precision)
        loaders[f"onnx {precision}"] = lambda folder=folder: OnnxGenerator(folder)
    return loaders


def speed(loaders: dict[str, Any], prompts: list, golds: list, args: argparse.Namespace
          ) -> dict[str, dict[str, Any]]:
    results, reference = {}, None
    for name, load in loaders.items():
        generator: ChatGenerator = load()
        generator.replies(prompts[:1], 4, 1)  # warm
        single = prompts[:args.single]
        row: dict[str, Any] = {**time_first_tokens(generator, single, args.max_new_tokens)}
        _, batch1 = time_replies(generator, single, args.max_new_tokens, 1)
        replies, batch16 = time_replies(generator, prompts, args.max_new_tokens, 16)
        reference = reference or replies
        row |= {f"batch1_{k}": v for k, v in batch1.items()}
        row |= {f"batch16_{k}": v for k, v in batch16.items()}
        row |= {**agreement(replies, reference), **reading_scores(replies, golds)}
        results[name] = row
        print(f"speed {name}: {row}", flush=True)
        del generator
        gc.collect()
    return results


def quality(loaders: dict[str, Any], rows: list[dict], args: argparse.Namespace, answers: Any
            ) -> dict[str, dict[str, Any]]:
    """The chat model's answers to the validation items on each runtime, scored; with each
    runtime's paired difference from the first (transformers fp32) on the main metric (reading:
    overall F1) and, for reading items, on answer F1."""
    data = held_out(rows)
    indices = list(range(len(data.items)))
    compared = [data.main_metric, *(["f1"] if data.reading else [])]
    results, reference = {}, None
    for name, load in loaders.items():
        generator = load()
        answered = answer_items(generator, data.items, indices, answers)
        reference = reference or answered
        summary = summarize(data.items, answered.scores)
        below = [s.cites_relevant for item, s in zip(data.items, answered.scores, strict=True)
                 if item.answerable and 1 not in item.relevant]
        results[name] = {**{k: summary[k] for k in [*SCORER_COLUMNS, *READING_COLUMNS]
                            if k in summary},
                         "cites_relevant_not_first": round(sum(below) / len(below), 4) if below
                         else None,
                         "identical": round(sum(a == b for a, b in zip(
                             answered.replies, reference.replies, strict=True)) / len(indices), 4),
                         "items": len(indices),
                         **{f"{metric}_vs_fp32": paired_difference(
                             answered, reference, data.items, metric, RESAMPLES, SEED)
                            for metric in compared}}
        print(f"quality {name}: {results[name]}", flush=True)
        del generator
        gc.collect()
    return results


def difference(row: dict[str, Any], metric: str) -> str:
    """A paired difference as `+0.012 [-0.010, +0.034]`, or `-` without one."""
    found = row.get(f"{metric}_vs_fp32")
    if not found:
        return "-"
    low, high = found["ci95"]
    return f"{found['difference']:+.3f} [{low:+.3f}, {high:+.3f}]"


def quality_table(quality: dict[str, dict[str, Any]], label: str) -> str:
    """`quality`'s rows as a table: the scorer's rates, identical replies and the paired
    differences from the first row."""
    shown = [c for c in [*READING_COLUMNS, *SCORER_COLUMNS]
             if any(c in row for row in quality.values())]
    compared = sorted({key.removesuffix("_vs_fp32") for row in quality.values()
                       for key in row if key.endswith("_vs_fp32")})
    rows = [[name, *(row.get(c) for c in [*shown, "identical"]),
             *(difference(row, metric) for metric in compared)] for name, row in quality.items()]
    return markdown_table([label, *shown, "identical", *(f"{m} vs fp32" for m in compared)], rows)


def report(summary: dict[str, Any]) -> str:
    base = summary["speed"]["transformers fp32"]
    speed_rows = [[name, row["first_token_p50"], row["reply_p50"],
                   row["batch1_replies_per_second"],
                   f"{row['batch1_replies_per_second'] / base['batch1_replies_per_second']:.2f}x",
                   row["batch1_tokens_per_second"], row["batch16_replies_per_second"],
                   f"{row['batch16_replies_per_second'] / base['batch16_replies_per_second']:.2f}x",
                   row["batch16_tokens_per_second"], row["identical"], row["answer_f1"]]
                  for name, row in summary["speed"].items()]
    return "\n".join([
        "# Chat generation on CPU: transformers against ONNX Runtime GenAI", "",
        f"Machine: {summary['machine']}. One run of `python -m bench.generation`; every row "
        "on the same prompts, one after the other. Ratios are against transformers fp32 in this "
        "run.", "",
        f"## Speed: the base model, {summary['prompts']} reading-sized prompts (median "
        f"{summary['prompt_tokens_median']} tokens), up to {summary['max_new_tokens']} new tokens",
        "",
        f"First token and whole reply: p50 over {summary['single']} prompts streamed one at a "
        f"time (seconds). Batch 1: those {summary['single']} prompts answered one by one; batch "
        f"16: all {summary['prompts']} (ONNX rows with the LM head on each row's last position: "
        "hybridrag.chat.last_position). `identical`: share of batch-16 replies equal token for "
        "token to transformers'; `answer F1`: SQuAD token F1 of those replies.", "",
        markdown_table(["runtime", "first token s", "reply s", "batch 1 replies/s", "vs fp32",
                        "batch 1 tokens/s", "batch 16 replies/s", "vs fp32",
                        "batch 16 tokens/s", "identical", "answer F1"], speed_rows), "",
        f"## Quality: `{summary['chat_model']}` on {summary['validation_items']} held-out "
        "validation items", "",
        "The one scorer's rates (answers.max_new_tokens, batch answers.batch_size);"
        " `identical`: replies equal to transformers' text; `vs fp32`: the paired difference "
        f"from transformers fp32 with its 95% bootstrap interval ({RESAMPLES} resamples).", "",
        quality_table(summary["quality"], "runtime"), ""])


@dataclass(frozen=True)
class Workload:
    """What a generation bench runs: the params, the reading prompts with their gold answers,
    the validation conversations and the product's chat model."""

    params: Any
    tokenizer: Any
    prompts: list
    golds: list
    validation: list[dict]
    chat_model: Path

    def describe(self, args: argparse.Namespace) -> dict[str, Any]:
        """The summary's fields that say what ran."""
        lengths = sorted(len(prompt_ids(self.tokenizer, p)) for p in self.prompts)
        return {"machine": describe_machine(), "prompts": len(self.prompts),
                "single": args.single, "prompt_tokens_median": lengths[len(lengths) // 2],
                "max_new_tokens": args.max_new_tokens,
                "chat_model": self.params.answers.chat_model,
                "validation_items": len(self.validation)}


def workload(args: argparse.Namespace) -> Workload | None:
    """The bench's inputs; None, having said SKIPPED, without the SQuAD file."""
    if not args.squad.is_file():
        print(f"SKIPPED: {args.squad} not found (the SQuAD 2.0 file of ../shared/benchmarks)")
        return None
    params = load_params(args.params)
    tokenizer = load_tokenizer(args.base_model)
    prompts, golds = zip(*reading_prompts(args.squad, tokenizer, args.prompts), strict=True)
    return Workload(params, tokenizer, list(prompts), list(golds),
                    [row for _, row in read_jsonl(args.validation)],
                    ROOT / chat_model_folder(params.answers.chat_model, BASE_MODEL, SFT_MODELS,
                                             DPO_MODEL))


def main() -> None:
    args = parse_args()
    work = workload(args)
    if work is None:
        return
    summary: dict[str, Any] = {
        **work.describe(args),
        "speed": speed(generators(args.base_model, args.base_model, args.work), work.prompts,
                       work.golds, args),
        "quality": quality(generators(work.chat_model, args.base_model, args.work),
                           work.validation, args, work.params.answers)}
    write_json(args.out / "generation.json", summary)
    atomic_write_text(args.out / "generation.md", report(summary))
    print(report(summary))


if __name__ == "__main__":
    main()
