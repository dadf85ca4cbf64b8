"""Stage train_dpo: preference tuning (TRL DPOTrainer, a LoRA adapter) of the SFT run named by
sft.dpo.start, on pairs mined from its own sampled replies to training questions."""

from __future__ import annotations

from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import add_training_arguments, run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    add_training_arguments(parser)
    parser.add_argument("--sft-models", required=True, help="the SFT runs (DPO starts from one)")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    from hybridrag.chat.models import run_kind
    from hybridrag.jsonl import read_jsonl
    from hybridrag.sft.dpo import train_dpo
    from hybridrag.sft.grounded import item_from_row
    from hybridrag.sft.training import RunPaths, skip

    train = Path(args.data) / "train.jsonl"
    rows = [row for _, row in read_jsonl(train)]
    if not all("meta" in row for row in rows):
        raise ValueError(f"{train}: DPO needs grounded conversations (sft.chatml.source: grounded)")
    paths = RunPaths.from_arguments(args)
    start = Path(args.sft_models) / params.sft.dpo.start
    if not rows or run_kind(start) == "skipped":
        reason = f"no training conversations in {args.data}" if not rows else f"{start} was not trained"
        skip("dpo", paths, reason)
        print(f"train_dpo: skipped ({reason}) -> {paths.out_dir}")
        return
    metrics = train_dpo([item_from_row(row) for row in rows], params.sft, params.answers, start, paths)
    print(f"train_dpo: {metrics['preference_data']['pairs']} pairs, {metrics['train_steps']} steps "
          f"in {metrics['train_seconds']} s, reward margin {metrics['reward_margin_first']} -> "
          f"{metrics['reward_margin_last']} -> {paths.out_dir}")


if __name__ == "__main__":
    run(main)
