"""Stage train_lora@<method>: the PEFT methods (LoRA, QLoRA, prompt or prefix tuning) with TRL."""

from __future__ import annotations

from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import add_training_arguments, run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--method", required=True,
                        choices=("lora", "qlora", "prompt_tuning", "prefix_tuning"))
    add_training_arguments(parser)
    args = parser.parse_args(argv)
    from hybridrag.sft.training import RunPaths, train_or_skip

    paths = RunPaths.from_arguments(args)
    print(train_or_skip(args.method, load_params(args.params).sft, Path(args.data), paths))


if __name__ == "__main__":
    run(main)
