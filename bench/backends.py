"""The two backends on the default corpus, in one run: the built index read from its folder
(SQLite FTS5 + FAISS) and from PostgreSQL + pgvector (published to a local server by the
library's publish, read through the service's pooled store), with the latency of bm25, dense
and hybrid retrieval at concurrency 1 and 8 and how far their results agree.

    python -m bench.backends            # after `make repro` (reads data/index, data/ingested)

Queries are the default corpus's query texts (the first --queries), encoded once: latencies are
of retrieval only, query encoding (the same model for both) left out. Agreement is per mode:
the share of queries whose top 10 documents are the same list, and the mean overlap of the
top 10 (for dense, PostgreSQL's HNSW against the embedded index's exact search).
Results: bench/results/backends.json and .md.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from hybridrag.atomic import atomic_write_text
from hybridrag.backends import open_store
from hybridrag.config import load_params
from hybridrag.jsonl import read_jsonl
from hybridrag.layout import INDEX, INGESTED, PARAMS
from hybridrag.reporting import describe_machine, markdown_table, write_json
from hybridrag.search.searcher import Searcher
from support.scale import measure_latency, retrieval_calls

ROOT = Path(__file__).resolve().parents[1]
K = 10
CONCURRENCY = (1, 8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=ROOT / PARAMS)
    parser.add_argument("--index", type=Path, default=ROOT / INDEX)
    parser.add_argument("--queries-file", type=Path,
                        default=ROOT / INGESTED / "queries.jsonl")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    import psycopg

    from hybridrag.postgres.publish import DSN_VARIABLE, publish
    from support.postgres_server import local_server

    params = load_params(args.params)
    retrieval, depth = params.retrieval, params.retrieval.depth
    texts = [row["text"] for _, row in read_jsonl(args.queries_file)][:args.queries]
    with Searcher(args.index, retrieval, params.fusion, device="cpu") as searcher:
        vectors = searcher.encode_queries(texts)
        manifest = searcher.manifest
    with local_server() as server:
        started = time.perf_counter()
        with psycopg.connect(server.dsn, autocommit=True) as connection:
            published = publish(connection, args.index,
                                (retrieval.bm25_title_weight, retrieval.bm25_text_weight),
                                params.build_db.hnsw_m, params.build_db.hnsw_ef_construction,
                                params.store.grace_seconds, params.store.served_name)
        publish_s = round(time.perf_counter() - started, 1)
        os.environ[DSN_VARIABLE] = server.dsn
        stores = {backend: open_store(params.store.updated(backend=backend), args.index,
                                      retrieval, connections=max(CONCURRENCY))
                  for backend in ("sqlite", "postgres")}
        try:
            calls = {backend: retrieval_calls(store, params.fusion, texts, vectors, depth, K)
                     for backend, store in stores.items()}
            rows = []
            for mode in calls["sqlite"]:
                for backend, modes in calls.items():
                    for concurrency in CONCURRENCY:
                        latency = measure_latency(modes[mode], len(texts), concurrency)
                        rows.append({"backend": backend, "mode": mode, **latency.__dict__})
                        print(rows[-1], flush=True)
            agreement = []
            for mode in calls["sqlite"]:
                embedded = [calls["sqlite"][mode](i) for i in range(len(texts))]
                postgres = [calls["postgres"][mode](i) for i in range(len(texts))]
                agreement.append({
                    "mode": mode,
                    "same_top_10": round(float(np.mean([a == b for a, b in
                                                        zip(embedded, postgres, strict=True)])), 4),
                    "overlap_at_10": round(overlap(postgres, embedded), 4)})
        finally:
            for store in stores.values():
                store.close()
    summary = {"machine": describe_machine(), "index": os.path.relpath(args.index, ROOT),
               "chunks": manifest["chunks"], "documents": manifest["documents"],
               "embedding": retrieval.embedding, "queries": len(texts), "depth": depth,
               "postgres_dense": params.store.postgres_dense,
               "hnsw_ef_search": retrieval.hnsw_ef_search, "faiss_index": manifest.get("faiss_index"),
               "publish_s": publish_s, "schema": published.schema, "latency": rows,
               "agreement": agreement}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "backends.json", summary)
    atomic_write_text(args.out / "backends.md", report(summary))
    return 0


def overlap(found: list[list[str]], exact: list[list[str]]) -> float:
    """Mean share of each query's top 10 in `exact` that `found`'s top 10 holds (recall@10)."""
    return float(np.mean([len(set(f[:K]) & set(e[:K])) / max(len(e[:K]), 1)
                          for f, e in zip(found, exact, strict=True)]))


def report(summary: dict) -> str:
    latency = markdown_table(["backend", "mode", "concurrency", "p50_ms", "p95_ms",
                              "queries_per_second"],
                             [[r["backend"], r["mode"], r["concurrency"], r["p50_ms"], r["p95_ms"],
                               r["queries_per_second"]] for r in summary["latency"]])
    agreement = markdown_table(["mode", "same top 10", "overlap@10"],
                               [[a["mode"], a["same_top_10"], a["overlap_at_10"]]
                                for a in summary["agreement"]])
    return (f"# SQLite + FAISS against PostgreSQL + pgvector on the default corpus\n\n"
            f"Machine: {summary['machine']}. Written by `python -m bench.backends` (one run). "
            f"Index: {summary['index']} ({summary['documents']} documents, {summary['chunks']} "
            f"chunks, embedding set {summary['embedding']}); {summary['queries']} queries; depth "
            f"{summary['depth']} per retriever; PostgreSQL dense: {summary['postgres_dense']} "
            f"(efSearch {summary['hnsw_ef_search']}). Publishing the index took "
            f"{summary['publish_s']} s (schema {summary['schema']}).\n\n"
            f"## Latency (retrieval only, query encoding left out)\n\n{latency}\n\n"
            f"## Agreement of PostgreSQL with the embedded index\n\n{agreement}\n")


if __name__ == "__main__":
    raise SystemExit(main())
