"""Retrieval metrics over runs (query id -> ranked doc ids) and qrels."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from hybridrag.metrics.hit_rate import hit_rate_at_k
from hybridrag.metrics.ndcg import ndcg_at_k
from hybridrag.metrics.recall import recall_at_k
from hybridrag.metrics.reciprocal_rank import reciprocal_rank_at_k
from hybridrag.records import Qrels

Run = Mapping[str, Sequence[str]]
"""query id -> document ids, best first."""

__all__ = ["Run", "evaluate", "hit_rate_at_k", "ndcg_at_k", "per_query_metrics", "recall_at_k",
           "reciprocal_rank_at_k"]


def per_query_metrics(ranked: Sequence[str], judged: Mapping[str, int], k_values: Iterable[int],
                      cutoff: int = 10) -> dict[str, float]:
    """recall@k and hit_rate@k for each k, then mrr@cutoff and ndcg@cutoff."""
    values: dict[str, float] = {}
    for k in k_values:
        values[f"recall@{k}"] = recall_at_k(ranked, judged, k)
    for k in k_values:
        values[f"hit_rate@{k}"] = hit_rate_at_k(ranked, judged, k)
    values[f"mrr@{cutoff}"] = reciprocal_rank_at_k(ranked, judged, cutoff)
    values[f"ndcg@{cutoff}"] = ndcg_at_k(ranked, judged, cutoff)
    return values


def evaluate(run: Run, qrels: Qrels, k_values: Iterable[int], cutoff: int = 10
             ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean and per-query metrics over the queries with at least one relevant document.

    A query missing from the run counts as an empty ranking (every metric 0).
    """
    k_values = tuple(k_values)
    per_query = {
        query_id: per_query_metrics(run.get(query_id, ()), judged, k_values, cutoff)
        for query_id, judged in qrels.items() if any(grade > 0 for grade in judged.values())
    }
    if not per_query:
        return {}, {}
    names = next(iter(per_query.values())).keys()
    means = {name: sum(v[name] for v in per_query.values()) / len(per_query) for name in names}
    return means, per_query
