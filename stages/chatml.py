"""Stage chatml: conversations -> ChatML `messages` JSONL, deduplicated, split by conversation."""

from __future__ import annotations

import random
import statistics
from pathlib import Path

from hybridrag.config import load_params
from hybridrag.jsonl import RowPolicy
from hybridrag.reporting import write_json
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--base-model", default="models/base", help="its tokenizer measures lengths")
    parser.add_argument("--out", default="data/sft")
    parser.add_argument("--metrics", default="metrics/sft_data.json")
    args = parser.parse_args(argv)
    params = load_params(args.params).sft
    settings = params.chatml
    from hybridrag.atomic import atomic_directory
    from hybridrag.sft.conversations import (
        chitchat_conversations,
        deduplicate,
        read_conversations,
        split_conversations,
        write_conversations,
    )
    from hybridrag.sft.models import load_tokenizer

    policy = RowPolicy(settings.on_error)
    source = (chitchat_conversations(settings.max_turns) if settings.source == "chitchat" else
              read_conversations(settings.path, settings.source, policy, settings.max_turns))
    conversations, duplicates = deduplicate(source)
    policy.warn_if_skipped()
    if not conversations:
        raise ValueError(f"sft.chatml: the {settings.source} source gave no usable conversation")
    if settings.max_conversations is not None and len(conversations) > settings.max_conversations:
        chosen = sorted(random.Random(settings.seed).sample(range(len(conversations)),
                                                            settings.max_conversations))
        conversations = [conversations[i] for i in chosen]
    splits = split_conversations(conversations, settings.validation_fraction,
                                 settings.test_fraction, settings.seed)
    with atomic_directory(args.out) as staging:
        for name, part in splits.items():
            write_conversations(staging / f"{name}.jsonl", part)
    tokenizer = load_tokenizer(args.base_model)
    lengths = sorted(len(tokenizer.apply_chat_template(c, tokenize=True, return_dict=True)["input_ids"])
                     for c in conversations)
    limit = params.train.max_length
    summary = {
        "conversations": {name: len(part) for name, part in splits.items()},
        "duplicates_dropped": duplicates,
        "skipped_rows": sum(policy.skipped.values()),
        "skipped_by_kind": dict(sorted(policy.skipped.items())),
        "tokens": {"mean": round(statistics.fmean(lengths), 1),
                   "p50": lengths[len(lengths) // 2], "p95": lengths[int(0.95 * (len(lengths) - 1))],
                   "max": lengths[-1], f"share_over_{limit}": round(
                       sum(n > limit for n in lengths) / len(lengths), 4)},
    }
    write_json(args.metrics, summary)
    print(f"chatml: {summary['conversations']} conversations ({duplicates} duplicates dropped), "
          f"tokens p50 {summary['tokens']['p50']} / p95 {summary['tokens']['p95']} -> {Path(args.out)}")


if __name__ == "__main__":
    run(main)
