"""Per-query score normalisation, as ranx does it (min-max and zero-mean unit-variance)."""

from __future__ import annotations

import math
from collections.abc import Mapping


def minmax(scores: Mapping[str, float]) -> dict[str, float]:
    """Scale to [0, 1]. When all scores are equal, each is 1.0 (ranx gives 0.0 there)."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high - low <= 1e-9:
        return dict.fromkeys(scores, 1.0)
    return {doc: (score - low) / (high - low) for doc, score in scores.items()}


def zscore(scores: Mapping[str, float]) -> dict[str, float]:
    """Subtract the mean, divide by the (population) standard deviation; equal scores give 0."""
    if not scores:
        return {}
    mean = sum(scores.values()) / len(scores)
    std = math.sqrt(sum((s - mean) ** 2 for s in scores.values()) / len(scores))
    return {doc: (score - mean) / max(std, 1e-9) for doc, score in scores.items()}
