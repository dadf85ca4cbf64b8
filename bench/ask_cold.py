"""A cold `hybridrag ask` (a new process: imports, model loads, one answer), with the ONNX
exports of the query encoder and the cross-encoders kept in a cache folder against exported at
every load (HYBRIDRAG_ONNX_CACHE=off), interleaved in one run.

    python -m bench.ask_cold        # after `make repro` (data/index and the trained models)
    python -m bench.ask_cold --runs 5 --question "Which fruit is botanically a berry?"

Each run starts `hybridrag ask QUESTION` as a user would, in the repository root, once with the
cache off and once with a temporary cache folder that a first, untimed run filled; wall seconds,
their medians and the ratio. Results: bench/results/ask_cold.json and .md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hybridrag.atomic import atomic_write_text
from hybridrag.onnx_cache import CACHE_ENV
from hybridrag.reporting import describe_machine, markdown_table, write_json

ROOT = Path(__file__).resolve().parents[1]


def ask_seconds(workspace: Path, question: str, cache: str) -> tuple[float, str]:
    """Wall seconds of one `hybridrag ask` in a new process in `workspace` with
    HYBRIDRAG_ONNX_CACHE=`cache`, and its answer's first line."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "hybridrag.cli", "ask", question], cwd=workspace,
                            capture_output=True, text=True, env={**os.environ, CACHE_ENV: cache})
    took = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"hybridrag ask failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return took, result.stdout.strip().splitlines()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--question", default="Who painted the Mona Lisa?")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each setting")
    parser.add_argument("--workspace", type=Path, default=ROOT,
                        help="where `make repro` ran (its params.yaml, index and models)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    seconds: dict[str, list[float]] = {"exported at every load": [], "kept in the cache": []}
    with tempfile.TemporaryDirectory(prefix="hybridrag-onnx-bench-") as cache:
        ask_seconds(args.workspace, args.question, cache)  # fills the cache
        for run in range(args.runs):
            for setting, value in (("exported at every load", "off"), ("kept in the cache", cache)):
                took, answer = ask_seconds(args.workspace, args.question, value)
                seconds[setting].append(round(took, 2))
                print(f"run {run + 1}: {setting}: {took:.2f} s ({answer})", flush=True)
    medians = {setting: statistics.median(values) for setting, values in seconds.items()}
    results = {"machine": describe_machine(), "question": args.question, "runs": args.runs,
               "seconds": seconds, "median_s": medians,
               "speedup": round(medians["exported at every load"] / medians["kept in the cache"], 2)}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "ask_cold.json", results)
    atomic_write_text(args.out / "ask_cold.md", report(results))
    print(report(results))
    return 0


def report(results: dict) -> str:
    rows = [[setting, results["median_s"][setting], ", ".join(map(str, values))]
            for setting, values in results["seconds"].items()]
    return "\n".join([
        "# A cold `hybridrag ask`: ONNX exports kept or exported at every load", "",
        f"{results['machine']}. One run of `python -m bench.ask_cold`: `hybridrag ask "
        f"\"{results['question']}\"` in a new process, {results['runs']} times each, interleaved; "
        "wall seconds (imports, loading the index, the query encoder, the reranker, the gate's "
        "classifier and the chat model, one answer). The cache: HYBRIDRAG_ONNX_CACHE, filled by "
        f"one untimed run first. Kept in the cache: **{results['speedup']}x** faster.", "",
        markdown_table(["ONNX exports", "median s", "runs (s)"], rows), "",
        "Reproduce: `make bench-ask-cold`.", ""])


if __name__ == "__main__":
    sys.exit(main())
