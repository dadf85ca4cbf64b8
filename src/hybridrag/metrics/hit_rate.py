"""Hit rate@k: 1 if any relevant document is in the top k, else 0 (trec_eval success_k)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def hit_rate_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    return float(any(judged.get(doc, 0) > 0 for doc in ranked[:k]))
