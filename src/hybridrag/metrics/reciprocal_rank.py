"""Reciprocal rank@k: 1 / rank of the first relevant document in the top k, else 0."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def reciprocal_rank_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    for rank, doc in enumerate(ranked[:k], start=1):
        if judged.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0
