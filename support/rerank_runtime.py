"""The trained cross-encoder scored by PyTorch, ONNX Runtime fp32 (what queries use on CPU:
search.rerank.runnable) and ONNX Runtime int8 on the same queries' candidates: milliseconds per
query, how far the scores move from PyTorch's, and the reranked ranking's nDCG@10."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from hybridrag.evaluation.retrieval import CUTOFF
from hybridrag.metrics import evaluate
from hybridrag.onnx_cross_encoder import OnnxCrossEncoder
from hybridrag.records import Qrels, Query
from hybridrag.search.hybrid import SearchResult
from hybridrag.search.rerank import reranked
from hybridrag.search.searcher import Searcher

Scorer = Callable[..., np.ndarray]  # (pairs, batch_size) -> one score per pair


def runtimes(model: Any) -> dict[str, tuple[Scorer, float]]:
    """Each runtime's scorer of `model` (a one-label CrossEncoder on CPU) and the seconds it
    took to be ready (the ONNX ones are exported when they load)."""
    made: dict[str, tuple[Scorer, float]] = {
        "torch": (partial(model.predict, show_progress_bar=False), 0.0)}
    for name, quantize in (("onnx", False), ("onnx_int8", True)):
        start = time.perf_counter()
        scorer = OnnxCrossEncoder.of(model, quantize=quantize)
        made[name] = (scorer.predict, time.perf_counter() - start)
    return made


def compare_runtimes(searcher: Searcher, model: Any, weight: float, queries: Sequence[Query],
                     qrels: Qrels, depth: int, rounds: int) -> list[dict[str, Any]]:
    """One row per runtime (PyTorch first, the reference): the median over queries of each
    query's fastest of `rounds` scorings of its top-`depth` hybrid candidates (the runtimes
    taking turns on every query, so a passing load touches all of them), the largest score
    difference from PyTorch's, the share of queries reranked in PyTorch's order, and nDCG@10
    of the reranked top `depth` (weight: the trained share)."""
    candidates: list[tuple[Query, list[SearchResult], list[str]]] = []
    for query in queries:
        head = searcher.search(query.text, k=depth)
        candidates.append((query, head, searcher.passages(head)))
    scorers = runtimes(model)
    fastest = {name: [math.inf] * len(candidates) for name in scorers}
    scores: dict[str, list[np.ndarray]] = {name: [] for name in scorers}
    for i, (query, _, passages) in enumerate(candidates):
        pairs = [(query.text, p) for p in passages]
        for round_ in range(rounds):
            for name, (scorer, _) in scorers.items():
                start = time.perf_counter()
                result = scorer(pairs, batch_size=32)
                fastest[name][i] = min(fastest[name][i], time.perf_counter() - start)
                if round_ == 0:
                    scores[name].append(np.asarray(result, dtype=np.float64))
    runs = {name: {query.query_id: [r.doc_id for r in reranked(head, got, weight)]
                   for (query, head, _), got in zip(candidates, scores[name], strict=True)}
            for name in scorers}
    rows = []
    for name, (_, load_seconds) in scorers.items():
        run = runs[name]
        same_order = sum(order == runs["torch"][query_id] for query_id, order in run.items())
        means, _ = evaluate(run, {query_id: qrels[query_id] for query_id in run}, (CUTOFF,))
        differences = [float(np.abs(a - b).max()) for a, b in zip(scores[name], scores["torch"],
                                                                   strict=True) if len(a)]
        rows.append({"runtime": name, "queries": len(candidates), "candidates": depth,
                     "ms_per_query_p50": round(1000 * statistics.median(fastest[name]), 2),
                     "load_seconds": round(load_seconds, 2),
                     "max_score_difference": float(f"{max(differences, default=0.0):.3g}"),
                     "same_order_as_torch": round(same_order / len(candidates), 4),
                     f"ndcg@{CUTOFF}": round(means[f"ndcg@{CUTOFF}"], 4)})
    for row in rows:
        row["speed_vs_torch"] = round(rows[0]["ms_per_query_p50"] / row["ms_per_query_p50"], 2)
    return rows
