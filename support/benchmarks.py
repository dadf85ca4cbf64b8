"""The arguments every bench/ script over a shared BEIR benchmark takes, and finding it."""

from __future__ import annotations

import argparse
from pathlib import Path

from hybridrag.layout import PARAMS


def benchmark_parser(description: str, root: Path, work_help: str) -> argparse.ArgumentParser:
    """The arguments every bench/ script takes: which BEIR benchmark, where, and where to write."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="folder name under --benchmarks")
    parser.add_argument("--benchmarks", type=Path, default=root.parent / "shared" / "benchmarks")
    parser.add_argument("--params", type=Path, default=root / PARAMS)
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
