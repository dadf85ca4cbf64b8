"""Paired differences with a bootstrap interval: how sure a comparison of two models on the same
questions is."""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from typing import Any


def mean_difference(differences: Sequence[float], resamples: int, seed: int
                    ) -> dict[str, Any] | None:
    """The mean of per-item differences with its 95% percentile bootstrap interval (seeded);
    None without items."""
    if not differences:
        return None
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(differences, k=len(differences)))
                   for _ in range(resamples))
    return {"difference": round(statistics.fmean(differences), 4), "items": len(differences),
            "ci95": [round(means[int(0.025 * resamples)], 4),
                     round(means[int(0.975 * resamples) - 1], 4)]}
