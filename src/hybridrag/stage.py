"""Shared start-up for the DVC stage scripts: argument parsing and user-facing errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from hybridrag.errors import USER_ERRORS
from hybridrag.layout import PARAMS


def stage_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default=PARAMS, help="params file (default: %(default)s)")
    return parser


def run(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Run a stage's main(); a user error prints one line and exits 2 instead of a traceback."""
    try:
        main(argv)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Inputs and outputs of one fine-tuning run (dvc.yaml passes them)."""
    parser.add_argument("--base-model", required=True, help="prepare_base's folder")
    parser.add_argument("--data", required=True, help="train/validation/test JSONL folder")
    parser.add_argument("--out", required=True, help="the trained model or adapter")
    parser.add_argument("--checkpoints", required=True, help="kept out of DVC, to resume from")
    parser.add_argument("--live", required=True, help="DVCLive folder (training curves)")
    parser.add_argument("--metrics", required=True, help="the run's metrics JSON")
