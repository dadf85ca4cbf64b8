"""Stage finetune_embed: the embedding model fine-tuned on the training pairs (MNRL)."""

from __future__ import annotations

from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--checkpoints", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args(argv)
    params = load_params(args.params)
    from hybridrag.learning.embedder import finetune
    from hybridrag.learning.pairs import read_pairs
    from hybridrag.reporting import write_json

    metrics = finetune(params.embed.model, read_pairs(Path(args.pairs) / "train.jsonl"),
                       read_pairs(Path(args.pairs) / "validation.jsonl"), params.finetune_embed,
                       Path(args.out), Path(args.checkpoints))
    write_json(args.metrics, metrics)
    if not metrics["trained"]:
        print(f"finetune_embed: not trained, {metrics['reason']} -> {args.out}")
        return
    print(f"finetune_embed: validation nDCG@10 {metrics['validation_ndcg@10_before']:.4f} -> "
          f"{metrics['validation_ndcg@10_after']:.4f} in {metrics['train_seconds']} s -> {args.out}")


if __name__ == "__main__":
    run(main)
