"""Shared start-up for the DVC stage scripts: argument parsing and user-facing errors."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from hybridrag.config import ParamsError
from hybridrag.jsonl import InputError
from hybridrag.search.filters import FilterError

USER_ERRORS = (InputError, ParamsError, FilterError, FileNotFoundError)


def stage_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    return parser


def benchmark_parser(description: str, root: Path, work_help: str) -> argparse.ArgumentParser:
    """The arguments every bench/ script takes: which BEIR benchmark, where, and where to write."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="folder name under --benchmarks")
    parser.add_argument("--benchmarks", type=Path, default=root.parent / "shared" / "benchmarks")
    parser.add_argument("--params", type=Path, default=root / "params.yaml")
    parser.add_argument("--work", type=Path, default=root / "bench" / ".work", help=work_help)
    parser.add_argument("--out", type=Path, default=root / "bench" / "results")
    return parser


def benchmark_folder(args: argparse.Namespace) -> Path | None:
    """The benchmark's BEIR folder, or None (after saying SKIPPED) when it is not there."""
    source = args.benchmarks / args.dataset
    if not (source / "corpus.jsonl").is_file():
        print(f"SKIPPED: benchmark {source} not found (expected a BEIR folder there)")
        return None
    return source


def run(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Run a stage's main(); a user error prints one line and exits 2 instead of a traceback."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models come from local folders; never wait on a hub
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        main(argv)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Inputs and outputs of one fine-tuning run (defaults follow dvc.yaml)."""
    parser.add_argument("--base-model", default="models/base")
    parser.add_argument("--data", default="data/sft", help="train/validation/test JSONL folder")
    parser.add_argument("--out", help="default: models/sft/METHOD")
    parser.add_argument("--checkpoints", help="default: checkpoints/METHOD (kept out of DVC)")
    parser.add_argument("--live", help="DVCLive folder, default: dvclive/METHOD")
    parser.add_argument("--metrics", help="default: metrics/sft/train_METHOD.json")
