"""Stage chatml: ChatML `messages` JSONL for fine-tuning, split train/validation/test.

The default source, reading, builds conversations over SQuAD-format paragraphs (questions people
wrote, split by article; hybridrag.sft.reading), optionally mixed with grounded ones; grounded,
over the sources the pipeline's retriever finds in the built index for the corpus's known-item
questions (hybridrag.sft.grounded); chitchat, alpaca, sharegpt and messages convert
conversations users bring.
"""

from __future__ import annotations

from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--base-model", required=True, help="its tokenizer measures lengths")
    parser.add_argument("--data", required=True, help="grounded: queries and qrels")
    parser.add_argument("--index", required=True, help="grounded: retrieves the sources")
    parser.add_argument("--reranker", required=True,
                        help="grounded: reranks them when answers.rerank is set")
    parser.add_argument("--pairs", required=True, help="grounded: synthetic questions")
    parser.add_argument("--out", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args(argv)
    params = load_params(args.params)
    from hybridrag.chat.models import load_tokenizer
    from hybridrag.sft.chatml import (
        converted_splits,
        grounded_splits,
        reading_splits,
        write_splits,
    )

    tokenizer = load_tokenizer(args.base_model)

    def grounded() -> tuple[dict, dict]:
        return grounded_splits(params, tokenizer, Path(args.data), Path(args.index),
                               Path(args.reranker), Path(args.pairs))

    if params.sft.chatml.source == "grounded":
        rows, summary = grounded()
    elif params.sft.chatml.source == "reading":
        rows, summary = reading_splits(params, tokenizer, lambda: grounded()[0])
    else:
        rows, summary = converted_splits(params.sft, tokenizer)
    write_splits(rows, summary, Path(args.out), Path(args.metrics))
    print(f"chatml: {params.sft.chatml.source} -> "
          f"{ {split: len(part) for split, part in rows.items()} } conversations -> {args.out}")


if __name__ == "__main__":
    run(main)
