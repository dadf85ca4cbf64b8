"""Retrieval evaluation: every mode and fusion setting scored on the same retrieved candidates."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from hybridrag.config import EvalParams, FusionParams, Params, RetrievalParams
from hybridrag.metrics import evaluate
from hybridrag.ranking import rank_scores
from hybridrag.records import Qrels, Query
from hybridrag.reporting import markdown_table
from hybridrag.search.hits import Hit
from hybridrag.search.hybrid import Mode, combine, mode_scores
from hybridrag.search.searcher import Searcher
from hybridrag.search.store import IndexStore

CUTOFF = 10  # for MRR and nDCG
RERANK_INPUT = "hybrid@rerank_queries"  # the hybrid run on the queries that were also reranked
RERANKED = "hybrid+rerank"


@dataclass
class Candidates:
    """Each retriever's document hits per query, plus the time each retriever took."""

    bm25: dict[str, list[Hit]]
    dense: dict[str, list[Hit]]
    bm25_seconds: float
    dense_seconds: float


def retrieve_candidates(searcher: Searcher, queries: list[Query], depth: int,
                        batch_size: int = 256, progress: bool = True) -> Candidates:
    """Run both retrievers once over all queries (dense in batches)."""
    start = time.perf_counter()
    bm25 = {q.query_id: searcher.keyword.search(q.text, depth)
            for q in tqdm(queries, desc="bm25", unit="query", disable=not progress)}
    bm25_seconds = time.perf_counter() - start
    start = time.perf_counter()
    dense: dict[str, list[Hit]] = {}
    batches = range(0, len(queries), batch_size)
    for offset in tqdm(batches, desc="dense", unit="batch", disable=not progress):
        batch = queries[offset: offset + batch_size]
        vectors = searcher.encode_queries([q.text for q in batch], batch_size)
        for query, hits in zip(batch, searcher.dense.search(vectors, depth), strict=True):
            dense[query.query_id] = hits
    return Candidates(bm25, dense, bm25_seconds, time.perf_counter() - start)


def mode_settings(fusion: FusionParams) -> dict[str, tuple[Mode, FusionParams]]:
    """The evaluated modes: each retriever alone, both fusion methods, and the configured one."""
    return {
        "bm25": ("bm25", fusion),
        "dense": ("dense", fusion),
        "hybrid_rrf": ("hybrid", fusion.updated(method="rrf")),
        "hybrid_weighted": ("hybrid", fusion.updated(method="weighted")),
        "hybrid": ("hybrid", fusion),
    }


def make_run(candidates: Candidates, mode: Mode, fusion: FusionParams, depth: int
             ) -> dict[str, list[str]]:
    """query id -> the top-`depth` document ids of `mode`."""
    return {query_id: [doc for doc, _ in rank_scores(
                mode_scores(bm25, candidates.dense[query_id], mode, fusion), depth)]
            for query_id, bm25 in candidates.bm25.items()}


def evaluate_setting(candidates: Candidates, qrels: Qrels, mode: Mode, fusion: FusionParams,
                     k_values: tuple[int, ...]
                     ) -> tuple[dict[str, float], dict[str, list[str]], dict[str, dict[str, float]]]:
    """(mean metrics, run, per-query metrics) of one mode and fusion setting."""
    run = make_run(candidates, mode, fusion, max(k_values))
    means, per_query = evaluate(run, qrels, k_values, CUTOFF)
    return means, run, per_query


def evaluate_modes(candidates: Candidates, qrels: Qrels, fusion: FusionParams,
                   k_values: tuple[int, ...]
                   ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, list[str]]],
                              dict[str, dict[str, dict[str, float]]]]:
    """(mean metrics, runs, per-query metrics), each keyed by mode name."""
    means, runs, per_query = {}, {}, {}
    for name, (mode, params) in mode_settings(fusion).items():
        means[name], runs[name], per_query[name] = evaluate_setting(candidates, qrels, mode,
                                                                    params, k_values)
    return means, runs, per_query


def fusion_sweep(candidates: Candidates, qrels: Qrels, fusion: FusionParams, params: EvalParams
                 ) -> list[dict[str, Any]]:
    """nDCG@10 and recall@100 for each dense weight (both normalisations) and each RRF k."""
    if not qrels:
        return []
    settings = [fusion.updated(method="weighted", normalization=norm, dense_weight=weight)
                for norm in ("minmax", "zscore") for weight in params.sweep_dense_weights]
    settings += [fusion.updated(method="rrf", rrf_k=k) for k in params.sweep_rrf_k]
    top_k = max(params.k_values)
    rows = []
    for setting in settings:
        means, _, _ = evaluate_setting(candidates, qrels, "hybrid", setting, (top_k,))
        weighted = setting.method == "weighted"
        rows.append({
            "method": setting.method,
            "normalization": setting.normalization if weighted else "",
            "dense_weight": setting.dense_weight if weighted else None,
            "rrf_k": None if weighted else setting.rrf_k,
            f"ndcg@{CUTOFF}": means[f"ndcg@{CUTOFF}"],
            f"recall@{top_k}": means[f"recall@{top_k}"],
        })
    return rows


def sweep_table(rows: list[dict[str, Any]]) -> str:
    """The fusion sweep as a markdown table."""
    if not rows:
        return "(no judged queries)\n"
    header = list(rows[0])
    return markdown_table(header, [["" if row[h] is None else
                                    f"{row[h]:g}" if h in ("dense_weight", "rrf_k") else row[h]
                                    for h in header] for row in rows])


def best_sweep_setting(rows: list[dict[str, Any]], fusion: FusionParams) -> FusionParams:
    """The fusion setting with the highest nDCG@10 in a sweep (first one on ties)."""
    best = max(rows, key=lambda row: row[f"ndcg@{CUTOFF}"])
    if best["method"] == "rrf":
        return fusion.updated(method="rrf", rrf_k=best["rrf_k"])
    return fusion.updated(method="weighted", normalization=best["normalization"],
                   dense_weight=best["dense_weight"])


def per_query_rows(queries: list[Query], qrels: Qrels, runs: dict[str, dict[str, list[str]]],
                   per_query: dict[str, dict[str, dict[str, float]]], top: int = 10
                   ) -> list[dict[str, Any]]:
    """One row per evaluated query: its relevant documents and, per mode, metrics and top hits."""
    rows = []
    for query in queries:
        if query.query_id not in next(iter(per_query.values()), {}):
            continue
        relevant = sorted(d for d, g in qrels[query.query_id].items() if g > 0)
        modes = {}
        for mode, run in runs.items():
            if query.query_id not in per_query[mode]:
                continue  # a mode scored on a subset of the queries (reranking)
            ranking = run.get(query.query_id, [])
            first = next((i for i, d in enumerate(ranking, start=1) if d in relevant), None)
            modes[mode] = {"first_relevant_rank": first, **per_query[mode][query.query_id],
                           "top": ranking[:top]}
        rows.append({"query_id": query.query_id, "query": query.text, "relevant": relevant,
                     "modes": modes})
    return rows


def select_queries(queries: list[Query], qrels: Qrels, max_queries: int | None, seed: int = 0
                   ) -> list[Query]:
    """Queries that have judgements in `qrels`, optionally a seeded random subset of them."""
    judged = [q for q in queries if any(g > 0 for g in qrels.get(q.query_id, {}).values())]
    return seeded_subset(judged, max_queries, seed)


def seeded_subset(queries: list[Query], max_queries: int | None, seed: int) -> list[Query]:
    """At most `max_queries` of `queries` (None: all), a seeded random choice kept in order."""
    if max_queries is None or len(queries) <= max_queries:
        return queries
    keep = set(np.random.default_rng(seed).choice(len(queries), max_queries, replace=False))
    return [q for i, q in enumerate(queries) if i in keep]


def side_by_side(candidates: Candidates, qrels: Qrels, fusion: FusionParams,
                 k_values: tuple[int, ...], label: str
                 ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, list[str]]],
                            dict[str, dict[str, dict[str, float]]]]:
    """dense and hybrid of another embedding set, as modes named "dense@<label>", "hybrid@<label>"."""
    means, runs, per_query = {}, {}, {}
    for mode in ("dense", "hybrid"):
        name = f"{mode}@{label}"
        means[name], runs[name], per_query[name] = evaluate_setting(candidates, qrels, mode, fusion,
                                                                    k_values)
    return means, runs, per_query


def evaluate_rerank(searcher: Searcher, candidates: Candidates, queries: list[Query], qrels: Qrels,
                    fusion: FusionParams, k_values: tuple[int, ...], progress: bool = True
                    ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, list[str]]],
                               dict[str, dict[str, dict[str, float]]], float]:
    """Hybrid, and hybrid with its top `searcher.rerank_depth` reranked, on `queries`.

    Below the reranked depth the hybrid order is kept, so recall@100 stays comparable.
    Returns (means, runs, per-query metrics, mean rerank milliseconds per query).
    """
    depth = max(k_values)
    hybrid: dict[str, list[str]] = {}
    reranked: dict[str, list[str]] = {}
    seconds = 0.0
    for query in tqdm(queries, desc="rerank", unit="query", disable=not progress):
        results = combine(candidates.bm25[query.query_id], candidates.dense[query.query_id],
                          "hybrid", fusion, depth)
        hybrid[query.query_id] = [r.doc_id for r in results]
        head = results[:searcher.rerank_depth]
        started = time.perf_counter()
        top = searcher.reranker.rerank(query.text, head, searcher.passages(head))
        seconds += time.perf_counter() - started
        reranked[query.query_id] = [r.doc_id for r in top] + hybrid[query.query_id][len(head):]
    subset = {q.query_id: qrels[q.query_id] for q in queries}
    means, runs, per_query = {}, {RERANK_INPUT: hybrid, RERANKED: reranked}, {}
    for name, run in runs.items():
        means[name], per_query[name] = evaluate(run, subset, k_values, CUTOFF)
    return means, runs, per_query, 1000 * seconds / max(len(queries), 1)


Means = dict[str, dict[str, float]]
Runs = dict[str, dict[str, list[str]]]
PerQuery = dict[str, dict[str, dict[str, float]]]


@dataclass
class RetrievalEvaluation:
    """Everything eval_retrieval reports: per mode, mean and per-query metrics and the runs;
    the fusion sweep; time per query; the index's manifest."""

    queries: list[Query]
    qrels: Qrels
    manifest: dict[str, Any]
    means: Means
    runs: Runs
    per_query: PerQuery
    sweep: list[dict[str, Any]]
    timing: dict[str, float]

    def merge(self, extra: tuple[Means, Runs, PerQuery]) -> None:
        """Add another evaluation's modes."""
        for collected, new in zip((self.means, self.runs, self.per_query), extra, strict=True):
            collected.update(new)


def evaluation_depth(params: Params) -> int:
    """Candidates per retriever: the configured depth, and at least the largest k evaluated."""
    return max(params.retrieval.depth, max(params.eval_retrieval.k_values))


def evaluate_index(index_dir: str | os.PathLike[str], queries: list[Query], qrels: Qrels,
                   params: Params, reranker: str | os.PathLike[str] | None = None,
                   progress: bool = True,
                   open_store: Callable[[RetrievalParams], IndexStore] | None = None
                   ) -> RetrievalEvaluation:
    """The eval_retrieval stage: every mode of the configured embedding set on all `queries`,
    the reranker on a seeded subset of them, the index's other embedding sets side by side
    (modes named `mode@set`), and the fusion sweep. `open_store` opens the backend the index
    is read from for given retrieval settings (default: its folder)."""

    def store(retrieval: RetrievalParams) -> IndexStore | None:
        return open_store(retrieval) if open_store is not None else None

    settings = params.eval_retrieval
    qrels = {q.query_id: qrels[q.query_id] for q in queries}
    depth = evaluation_depth(params)
    per_query_ms = 1000 / max(len(queries), 1)
    with Searcher(index_dir, params.retrieval, params.fusion, reranker=reranker,
                  rerank_depth=params.rerank.depth, store=store(params.retrieval)) as searcher:
        candidates = retrieve_candidates(searcher, queries, depth, settings.batch_size, progress)
        result = RetrievalEvaluation(
            queries, qrels, searcher.manifest,
            *evaluate_modes(candidates, qrels, params.fusion, settings.k_values),
            sweep=fusion_sweep(candidates, qrels, params.fusion, settings),
            timing={"bm25": candidates.bm25_seconds * per_query_ms,
                    "dense (encode + search, batched)": candidates.dense_seconds * per_query_ms})
        if reranker is not None and queries:
            subset = select_queries(queries, qrels, settings.rerank_queries, settings.seed)
            *extra, rerank_ms = evaluate_rerank(searcher, candidates, subset, qrels, params.fusion,
                                                settings.k_values, progress)
            result.merge(tuple(extra))  # type: ignore[arg-type]
            result.timing[f"rerank top {params.rerank.depth} (cross-encoder)"] = rerank_ms
    for name in sorted(set(result.manifest["embeddings"]) - {params.retrieval.embedding}):
        other = params.retrieval.updated(embedding=name)
        with Searcher(index_dir, other, params.fusion, store=store(other)) as searcher:
            result.merge(side_by_side(retrieve_candidates(searcher, queries, depth,
                                                          settings.batch_size, progress),
                                      qrels, params.fusion, settings.k_values, name))
    return result
