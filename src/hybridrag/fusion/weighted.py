"""Weighted sum of (already normalised) scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def weighted_sum(score_maps: Sequence[Mapping[str, float]], weights: Sequence[float]
                 ) -> dict[str, float]:
    """Sum of weight * score over the maps; a map absent a doc adds nothing (as in ranx wsum)."""
    if len(score_maps) != len(weights):
        raise ValueError(f"{len(score_maps)} score maps but {len(weights)} weights")
    fused: dict[str, float] = {}
    for scores, weight in zip(score_maps, weights, strict=True):
        for doc, score in scores.items():
            fused[doc] = fused.get(doc, 0.0) + weight * score
    return fused
