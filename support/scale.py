"""How the index behaves at 100k to 1M chunks, for bench/scale.py: a synthetic corpus made from
the default one (chunk texts sampled with replacement, their real vectors plus seeded noise,
so that nothing needs encoding for hours), recall of approximate search against the exact one,
and query latency at a given concurrency through the same retrievers the service uses."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np

from hybridrag.config import FusionParams
from hybridrag.records import Chunk, Document
from hybridrag.search.hits import Hit
from hybridrag.search.hybrid import MODES, Mode, combine
from hybridrag.search.store import IndexStore


@dataclass(frozen=True)
class SyntheticCorpus:
    documents: list[Document]  # one per chunk, titled as its source chunk's document
    chunks: list[Chunk]
    vectors: np.ndarray  # unit vectors, row i <-> chunk id i


def synthetic_corpus(documents: Sequence[Document], chunks: Sequence[Chunk], vectors: np.ndarray,
                     chunk_ids: np.ndarray, size: int, noise: float, seed: int) -> SyntheticCorpus:
    """`size` chunks sampled (seeded, with replacement) from `chunks`; chunk i's vector is its
    source's vector (row of `vectors` for its chunk id) plus Gaussian noise of standard
    deviation `noise` per dimension, normalised again."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(chunks), size)
    titles = {d.doc_id: d.title for d in documents}
    row_of = {int(c): row for row, c in enumerate(chunk_ids)}
    new_documents, new_chunks = [], []
    for i, pick in enumerate(picks.tolist()):
        source = chunks[pick]
        new_documents.append(Document(doc_id=f"s{i}", title=titles[source.doc_id], text=source.text))
        new_chunks.append(Chunk(chunk_id=i, doc_id=f"s{i}", position=0, start=0,
                                end=len(source.text), text=source.text))
    rows = np.array([row_of[chunks[p].chunk_id] for p in picks.tolist()])
    noisy = vectors[rows] + rng.normal(0.0, noise, (size, vectors.shape[1])).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    return SyntheticCorpus(new_documents, new_chunks, np.ascontiguousarray(noisy, dtype=np.float32))


def recall_at_k(approximate: np.ndarray, exact: np.ndarray, k: int) -> float:
    """Mean share of each row's exact top-k ids found in its approximate top-k."""
    return float(np.mean([len(set(a[:k].tolist()) & set(e[:k].tolist())) / k
                          for a, e in zip(approximate, exact, strict=True)]))


@dataclass(frozen=True)
class Latency:
    concurrency: int
    queries: int
    p50_ms: float
    p95_ms: float
    queries_per_second: float


def measure_latency(call: Callable[[int], object], queries: int, concurrency: int) -> Latency:
    """Run call(0..queries-1) from `concurrency` threads; per-call latency and throughput."""
    latencies: list[float] = []
    lock = threading.Lock()

    def timed(i: int) -> None:
        start = time.perf_counter()
        call(i)
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(timed, range(queries)))
    wall = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=20, method="inclusive")
    return Latency(concurrency, queries, round(1000 * statistics.median(latencies), 2),
                   round(1000 * quantiles[18], 2), round(queries / wall, 1))


def retrieval_calls(store: IndexStore, fusion: FusionParams, texts: Sequence[str],
                    vectors: np.ndarray, depth: int, k: int
                    ) -> dict[str, Callable[[int], list[str]]]:
    """Query i's bm25, dense and hybrid top-k document ids through `store`'s retrievers, as
    Searcher.search runs them, with the query vectors given (encoding left out)."""

    def bm25(i: int) -> list[Hit]:
        return store.keyword.search(texts[i], depth)

    def dense(i: int) -> list[Hit]:
        return store.dense.search(vectors[i:i + 1], depth)[0]

    def top(mode: Mode, i: int) -> list[str]:
        hits = (bm25(i) if mode != "dense" else [], dense(i) if mode != "bm25" else [])
        return [result.doc_id for result in combine(*hits, mode, fusion, k)]

    return {mode: partial(top, mode) for mode in MODES}
