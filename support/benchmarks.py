"""The arguments every bench/ script over a shared BEIR benchmark takes, and finding it; the
held-out queries of the benches over the workspace index; the answer path's model arguments
and its trained gate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hybridrag.answers.gate import Gate
from hybridrag.config import Params, load_params
from hybridrag.ingest.beir import read_beir
from hybridrag.jsonl import RowPolicy
from hybridrag.layout import BASE_MODEL, GATE, INDEX, INGESTED, PARAMS, RERANKER
from hybridrag.records import Dataset


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


def workspace_parser(description: str, root: Path) -> argparse.ArgumentParser:
    """The arguments of the benches over the workspace index `make repro` built: the params,
    the index, its ingested corpus (for the held-out queries), and where to write."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=root / PARAMS)
    parser.add_argument("--index", type=Path, default=root / INDEX)
    parser.add_argument("--data", type=Path, default=root / INGESTED)
    parser.add_argument("--out", type=Path, default=root / "bench" / "results")
    return parser


def answering_parser(description: str, root: Path) -> argparse.ArgumentParser:
    """The arguments of the benches over the answer path `make repro` trained: the params, the
    reranker, the answerability gate, the base chat model, and where to write."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=root / PARAMS)
    parser.add_argument("--reranker", type=Path, default=root / RERANKER)
    parser.add_argument("--gate", type=Path, default=root / GATE)
    parser.add_argument("--base-model", type=Path, default=root / BASE_MODEL)
    parser.add_argument("--out", type=Path, default=root / "bench" / "results")
    return parser


def read_benchmark(source: Path) -> tuple[Dataset, dict[str, Any]]:
    """A shared BEIR benchmark with its bad rows skipped (Cranfield has two empty documents),
    a warning naming them, and their count (`RowPolicy.summary`)."""
    policy = RowPolicy("skip")
    dataset = read_beir(source, policy)
    policy.warn_if_skipped()
    return dataset, policy.summary()


def benchmark_folder(args: argparse.Namespace) -> Path | None:
    """The benchmark's BEIR folder, or None (after saying SKIPPED) when it is not there."""
    source = args.benchmarks / args.dataset
    if not (source / "corpus.jsonl").is_file():
        print(f"SKIPPED: benchmark {source} not found (expected a BEIR folder there)")
        return None
    return source


def workspace_queries(index: Path, data: Path) -> list[str] | None:
    """The held-out test queries of the ingested corpus `data`, for a bench over the index
    `make repro` built; None (after saying so on stderr) when there is no index yet."""
    if not (index / "manifest.json").is_file():
        print(f"error: no index at {index}; run `make repro` first", file=sys.stderr)
        return None
    dataset = read_beir(data)
    return [q.text for q in dataset.queries if q.query_id in dataset.qrels.get("test", {})]



def trained_gate(folder: Path, device: str) -> Gate | None:
    """The gate choose_gate saved in `folder` with its trained classifier, or None (after saying
    why on stderr) when there is none to measure."""
    try:
        gate = Gate.load(folder, device=device)
    except FileNotFoundError as error:
        print(f"error: {error} (or `make repro`)", file=sys.stderr)
        return None
    if gate is None or gate.classifier is None:
        print(f"error: the gate at {folder} has no trained classifier to measure "
              "(answerability.train: false, or no threshold was chosen)", file=sys.stderr)
        return None
    return gate


def parse_with_gate(parser: argparse.ArgumentParser, argv: list[str] | None
                    ) -> tuple[argparse.Namespace, Params, Gate] | None:
    """`parser`'s arguments (an `answering_parser`), the params they name and the gate
    `trained_gate` finds at `--gate` (on answers.device), or None (after saying why on stderr)
    when there is no gate to measure."""
    args = parser.parse_args(argv)
    params = load_params(args.params)
    gate = trained_gate(args.gate, params.answers.device)
    return None if gate is None else (args, params, gate)
