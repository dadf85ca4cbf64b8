"""Stage train_numeric@<loss>: a LoRA (or QLoRA) adapter on the numeric rows, trained with token
cross-entropy alone (cross_entropy: plain SFT) or with the hybrid loss (hybrid: cross-entropy +
numeric.regression.weight * the regression loss of a head on the number)."""

from __future__ import annotations

from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import add_training_arguments, run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--loss", required=True, choices=("cross_entropy", "hybrid"))
    add_training_arguments(parser)
    args = parser.parse_args(argv)
    from hybridrag.numeric.training import train_or_skip
    from hybridrag.sft.training import RunPaths

    paths = RunPaths.from_arguments(args)
    print(train_or_skip(args.loss, load_params(args.params).numeric, Path(args.data), paths))


if __name__ == "__main__":
    run(main)
