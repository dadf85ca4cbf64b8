"""The one ordering used everywhere: score descending, ties broken by document id descending.

This is trec_eval's (and so pytrec_eval's) order, so a run evaluates the same here and there.
"""

from __future__ import annotations

from collections.abc import Mapping


def rank_scores(scores: Mapping[str, float], depth: int | None = None) -> list[tuple[str, float]]:
    """(doc id, score) pairs, best first, cut to `depth` when given."""
    ranked = sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)
    return ranked if depth is None else ranked[:depth]
