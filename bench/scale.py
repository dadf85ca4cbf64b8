"""The index at 100k and 1M chunks: build time, disk, memory, recall, and query latency at
concurrency 1 and 8, embedded (BM25 by FTS5 and by the index's precomputed weights, FAISS flat /
HNSW / IVF) and PostgreSQL + pgvector; and whether the two keyword engines agree at that size.

    python -m bench.scale                           # after `make repro` (reads data/)
    python -m bench.scale --sizes 100000 --postgres-max 100000

Each corpus is synthetic but made of real parts: chunk texts sampled (seeded, with
replacement) from the default corpus, and their real base-model vectors plus seeded noise
(`--noise` per dimension), so nothing is encoded. Queries are the default corpus's
query texts (the first --queries), encoded once; latencies are of retrieval only (query encoding, the same for
every index, is left out). Everything goes through the library: pipeline build_index (SQLite +
FAISS), FAISS HNSW and IVF as build_db makes them, the keyword retrievers of both engines as
the service picks them (search.store.keyword_retriever), DenseRetriever, the fusion of
Searcher.search, and the PostgreSQL backend's loader and retrievers.
Results: bench/results/scale.json and .md.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from hybridrag.atomic import atomic_write_text
from hybridrag.chunking import read_chunks
from hybridrag.config import Params, load_params
from hybridrag.embedding import encode, load_encoder
from hybridrag.embedding_store import EmbeddingSet, load_embeddings
from hybridrag.index import DATABASE, build_index, vectors_file
from hybridrag.index.database import ConnectionPool, fetch_chunk_documents
from hybridrag.index.vectors import (
    build_vector_index,
    ivf_list_count,
    load_vector_index,
    search_vectors,
)
from hybridrag.ingest.beir import read_documents
from hybridrag.jsonl import RowPolicy, read_jsonl
from hybridrag.layout import PARAMS
from hybridrag.reporting import describe_machine, markdown_table, write_json
from hybridrag.search.dense import DenseRetriever
from hybridrag.search.fts_query import ENGLISH_STOPWORDS
from hybridrag.search.half_scan import HalfPrecisionScan
from hybridrag.search.hits import Hit
from hybridrag.search.hybrid import combine
from hybridrag.search.store import keyword_retriever
from support.scale import measure_latency, recall_at_k, synthetic_corpus

ROOT = Path(__file__).resolve().parents[1]
K = 10


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def folder_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def latencies(name: str, search, queries: int, rows: list[dict[str, Any]], size: int,
              backend: str) -> None:
    for concurrency in (1, 8):
        latency = measure_latency(search, queries, concurrency)
        rows.append({"chunks": size, "backend": backend, "mode": name, **latency.__dict__})
        print(rows[-1], flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=ROOT / PARAMS)
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--postgres-max", type=int, default=100_000,
                        help="load into PostgreSQL only corpora up to this many chunks")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.02, help="per-dimension noise on vectors")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work" / "scale")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    params = load_params(args.params)
    documents = read_documents(args.data / "ingested" / "corpus.jsonl", RowPolicy("raise"))
    chunks = read_chunks(args.data / "chunks.jsonl")
    base = load_embeddings(args.data / "embeddings")
    texts = [row["text"] for _, row in read_jsonl(args.data / "ingested" / "queries.jsonl")]
    encoder = load_encoder(params.embed.model, "cpu", params.embed.max_seq_length)
    query_vectors = encode(encoder, texts[:args.queries])
    query_texts = texts[:args.queries]
    depth, ef = params.retrieval.depth, params.retrieval.hnsw_ef_search
    builds: list[dict[str, Any]] = []
    timings: list[dict[str, Any]] = []
    agreements: list[dict[str, Any]] = []
    for size in args.sizes:
        corpus = synthetic_corpus(documents, chunks, base.vectors, base.chunk_ids, size,
                                  args.noise, args.seed)
        embedding = EmbeddingSet(corpus.vectors, np.arange(size, dtype=np.int64), base.info)
        folder = args.work / str(size)
        shutil.rmtree(folder, ignore_errors=True)
        start = time.perf_counter()
        build_index(folder, corpus.documents, corpus.chunks, {"base": embedding},
                    params.build_db.updated(faiss_index="flat"))
        builds.append({"chunks": size, "index": "SQLite FTS5 + FAISS flat (build_index)",
                       "build_s": round(time.perf_counter() - start, 1),
                       "disk_mb": folder_mb(folder), "peak_rss_mb": peak_rss_mb()})
        print(builds[-1], flush=True)
        approximate: dict[str, faiss.Index] = {}
        for kind in ("hnsw", "ivf"):
            start = time.perf_counter()
            approximate[kind] = build_vector_index(
                corpus.vectors, embedding.chunk_ids, kind, params.build_db.hnsw_m,
                params.build_db.hnsw_ef_construction, params.build_db.ivf_lists)
            builds.append({"chunks": size, "index": describe_index(kind, params, size),
                           "build_s": round(time.perf_counter() - start, 1),
                           "disk_mb": round(len(faiss.serialize_index(approximate[kind])) / 2**20, 1),
                           "peak_rss_mb": peak_rss_mb(),
                           "recall_at_10": approximate_recall(folder, approximate[kind],
                                                              query_vectors, params)})
            print(builds[-1], flush=True)
        del corpus
        agreements.append(embedded_run(folder, approximate, size, params, query_texts,
                                       query_vectors, timings))
        del approximate
        if size <= args.postgres_max:
            postgres_run(folder, size, params, query_texts, query_vectors, builds, timings)
        shutil.rmtree(folder, ignore_errors=True)
    summary = {"machine": describe_machine(), "queries": len(query_texts), "noise": args.noise,
               "seed": args.seed, "depth": depth, "hnsw_ef_search": ef,
               "ivf_nprobe": params.retrieval.ivf_nprobe, "builds": builds,
               "keyword_engines": agreements, "latency": timings}
    write_json(args.out / "scale.json", summary)
    atomic_write_text(args.out / "scale.md", report(summary))
    return 0


def describe_index(kind: str, params: Params, size: int) -> str:
    if kind == "hnsw":
        return (f"FAISS HNSW (M {params.build_db.hnsw_m}, efConstruction "
                f"{params.build_db.hnsw_ef_construction})")
    return f"FAISS IVF ({ivf_list_count(size, params.build_db.ivf_lists)} lists, k-means)"


def approximate_recall(folder: Path, index: faiss.Index, query_vectors: np.ndarray,
                       params: Params) -> float:
    """Recall@10 of an approximate index's chunks against the flat index's (exact) chunks,
    searched with the query-time settings of params.yaml (efSearch, nprobe)."""
    _, exact = search_vectors(load_vector_index(folder / vectors_file("base")), query_vectors, K)
    _, found = search_vectors(index, query_vectors, K, ef_search=params.retrieval.hnsw_ef_search,
                              nprobe=params.retrieval.ivf_nprobe)
    return round(recall_at_k(found, exact, K), 4)


def embedded_run(folder: Path, approximate: dict[str, faiss.Index], size: int, params: Params,
                 query_texts: list[str], query_vectors: np.ndarray,
                 timings: list[dict[str, Any]]) -> dict[str, Any]:
    """bm25 (both keyword engines), dense and hybrid latency over the built folder, dense by
    FAISS flat, HNSW and IVF; and how far the sparse engine's hits are from FTS5's."""
    depth, ef = params.retrieval.depth, params.retrieval.hnsw_ef_search
    pool = ConnectionPool(folder / DATABASE, 8)
    with pool.connection() as connection:
        chunk_doc = fetch_chunk_documents(connection)
    start = time.perf_counter()
    keyword = {engine: keyword_retriever(
        folder, pool, chunk_doc, params.retrieval.model_copy(update={"keyword_engine": engine}),
        ENGLISH_STOPWORDS) for engine in ("fts5", "sparse")}
    load_s = round(time.perf_counter() - start, 1)
    agreement = {"chunks": size, "sparse_load_s": load_s, **engine_agreement(
        [keyword["fts5"].search(q, depth) for q in query_texts],
        [keyword["sparse"].search(q, depth) for q in query_texts])}
    print(agreement, flush=True)
    n = len(query_texts)
    for engine, retriever in keyword.items():
        latencies(f"bm25 {engine}", lambda i, r=retriever: r.search(query_texts[i], depth), n,
                  timings, size, "sqlite")
    flat = load_vector_index(folder / vectors_file("base"))
    scan = HalfPrecisionScan(flat)  # what the service searches a flat index with
    agreement["fp16_scan_identical_top_chunks"] = round(float(np.mean((
        search_vectors(scan, query_vectors, depth)[1]
        == search_vectors(flat, query_vectors, depth)[1]).all(axis=1))), 4)
    for kind, index in {"flat": flat, "flat fp16 scan": scan, **approximate}.items():
        dense = DenseRetriever(index, pool, chunk_doc, ef, params.retrieval.ivf_nprobe)
        latencies(f"dense {kind}", lambda i, d=dense: d.search(query_vectors[i:i + 1], depth),
                  n, timings, size, "sqlite + faiss")
        for engine, retriever in keyword.items():
            latencies(f"hybrid {kind} + {engine}", lambda i, d=dense, r=retriever: combine(
                r.search(query_texts[i], depth), d.search(query_vectors[i:i + 1], depth)[0],
                "hybrid", params.fusion, K), n, timings, size, "sqlite + faiss")
    pool.close()
    return agreement


def engine_agreement(reference: list[list[Hit]], fast: list[list[Hit]]) -> dict[str, Any]:
    """Share of queries whose two top lists name the same documents in the same order, and the
    largest score difference relative to FTS5's score."""
    same = [[h.doc_id for h in a] == [h.doc_id for h in b]
            for a, b in zip(reference, fast, strict=True)]
    differences = [abs(a.score - b.score) / max(abs(a.score), 1e-12)
                   for ra, rb in zip(reference, fast, strict=True)
                   for a, b in zip(ra, rb, strict=False) if a.doc_id == b.doc_id]
    return {"identical_top_lists": round(float(np.mean(same)), 4),
            "max_relative_score_difference": float(max(differences, default=0.0))}


def postgres_run(folder: Path, size: int, params: Params, query_texts: list[str],
                 query_vectors: np.ndarray, builds: list[dict[str, Any]],
                 timings: list[dict[str, Any]]) -> None:
    """Load the index into a local PostgreSQL and time its retrievers (a pooled connection
    per concurrent caller)."""
    import psycopg
    from psycopg_pool import ConnectionPool

    from hybridrag.postgres.store import PostgresDenseRetriever, PostgresKeywordRetriever, load_index
    from support.postgres_server import local_server

    depth, ef = params.retrieval.depth, params.retrieval.hnsw_ef_search
    weights = (params.retrieval.bm25_title_weight, params.retrieval.bm25_text_weight)
    with local_server() as server:
        with psycopg.connect(server.dsn, autocommit=True) as connection:
            start = time.perf_counter()
            load_index(connection, folder, "scale", weights, params.build_db.hnsw_m,
                       params.build_db.hnsw_ef_construction)
            disk = connection.execute("SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c "
                                      "JOIN pg_namespace n ON n.oid = c.relnamespace "
                                      "WHERE n.nspname = 'scale' AND c.relkind = 'r'").fetchone()[0]
            builds.append({"chunks": size, "index": "PostgreSQL 18 + pgvector (load_index: "
                                                    "tables, GIN, HNSW)",
                           "build_s": round(time.perf_counter() - start, 1),
                           "disk_mb": round(disk / 2**20, 1), "peak_rss_mb": None})
            print(builds[-1], flush=True)
        # the backend's own pooled retrievers, one connection per concurrent caller
        with ConnectionPool(server.dsn, min_size=8, max_size=8,
                            kwargs={"autocommit": True}) as pool:
            exact = PostgresDenseRetriever(pool, "scale", "base", ef, exact=True)
            keyword = PostgresKeywordRetriever(pool, "scale", ENGLISH_STOPWORDS, weights)
            dense = PostgresDenseRetriever(pool, "scale", "base", ef, exact=False)
            want = [[h.doc_id for h in hits] for hits in exact.search(query_vectors, K)]
            got = [[h.doc_id for h in hits] for hits in dense.search(query_vectors, K)]
            builds[-1]["recall_at_10"] = round(recall_at_k(np.array(got), np.array(want), K), 4)
            n = len(query_texts)
            latencies("bm25", lambda i: keyword.search(query_texts[i], depth), n, timings, size,
                      "postgres")
            latencies("dense hnsw", lambda i: dense.search(query_vectors[i:i + 1], depth), n,
                      timings, size, "postgres")
            latencies("hybrid hnsw", lambda i: combine(
                keyword.search(query_texts[i], depth), dense.search(query_vectors[i:i + 1], depth)[0],
                "hybrid", params.fusion, K), n, timings, size, "postgres")


def report(summary: dict[str, Any]) -> str:
    build_header = ["chunks", "index", "build_s", "disk_mb", "peak_rss_mb", "recall_at_10"]
    latency_header = ["chunks", "backend", "mode", "concurrency", "p50_ms", "p95_ms",
                      "queries_per_second"]
    agreement_header = ["chunks", "identical_top_lists", "max_relative_score_difference",
                        "sparse_load_s"]
    return (
        "# The index at scale\n\n"
        f"Machine: {summary['machine']}. Written by `python -m bench.scale` (all rows in one run). "
        f"{summary['queries']} queries of the default corpus, top {summary['depth']} documents "
        "per retriever, "
        f"HNSW efSearch {summary['hnsw_ef_search']}, IVF nprobe {summary['ivf_nprobe']}; "
        "synthetic corpora of default-corpus chunk "
        f"texts with their real vectors plus noise {summary['noise']} per dimension. Peak RSS is "
        "the benchmark process's high-water mark so far (it only grows). Recall@10: an "
        "approximate index's top 10 against the exact search's (chunks for FAISS, documents "
        "for PostgreSQL).\n\n"
        "## Build\n\n" + markdown_table(build_header, [[b.get(h) for h in build_header]
                                                      for b in summary["builds"]]) +
        "\n\n## Keyword engines: precomputed weights (sparse) against FTS5 bm25()\n\n"
        "Over the same queries, top documents: share of queries with identical lists, the "
        "largest score difference relative to FTS5's, and the time to load the weights.\n\n" +
        markdown_table(agreement_header, [[a[h] for h in agreement_header]
                                          for a in summary["keyword_engines"]]) +
        "\n\n## The service's fp16 scan of a flat index against the flat search\n\n"
        "Share of queries whose top chunk ids (as many as the depth) are the same, in the same "
        "order (hybridrag.search.half_scan; `dense flat fp16 scan` below is its latency).\n\n" +
        markdown_table(["chunks", "fp16_scan_identical_top_chunks"],
                       [[a["chunks"], a.get("fp16_scan_identical_top_chunks")]
                        for a in summary["keyword_engines"]]) +
        "\n\n## Latency (retrieval only, query encoding left out)\n\n" +
        markdown_table(latency_header, [[t[h] for h in latency_header]
                                        for t in summary["latency"]]) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
