"""Recall@k: the share of a query's relevant documents found in the top k (trec_eval recall_k)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def recall_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    relevant = {doc for doc, grade in judged.items() if grade > 0}
    if not relevant:
        return 0.0
    return sum(1 for doc in ranked[:k] if doc in relevant) / len(relevant)
