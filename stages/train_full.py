"""Stage train_full: full fine-tuning, with DeepSpeed ZeRO when sft.full.deepspeed_config is set.

Run it through a launcher, as dvc.yaml does: `torchrun --nproc_per_node 1 stages/train_full.py`
(on the CPU here, over gloo; on a GPU machine the same command uses CUDA).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from hybridrag.config import load_params
from hybridrag.stage import add_training_arguments, run, stage_parser

# DeepSpeed picks its accelerator when first imported; without CUDA it must be told: the CPU.
os.environ.setdefault("DS_ACCELERATOR", "cuda" if torch.cuda.is_available() else "cpu")


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    add_training_arguments(parser)
    args = parser.parse_args(argv)
    from hybridrag.sft.training import RunPaths, train_or_skip

    paths = RunPaths.from_arguments(args)
    print(train_or_skip("full", load_params(args.params).sft, Path(args.data), paths))


if __name__ == "__main__":
    run(main)
