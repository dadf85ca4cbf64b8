"""Metrics of numeric answers: exact match and accuracy within tolerances over every question (a
reply without a number counts as wrong), MAE and R² over the replies that gave one."""

from __future__ import annotations

from collections.abc import Sequence


def numeric_metrics(predictions: Sequence[float | None], targets: Sequence[float],
                    tolerances: Sequence[float]) -> dict[str, float | int | None]:
    """`predictions[i]` is the number read from reply i (None when it had none)."""
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions for {len(targets)} targets")
    n = len(targets)
    pairs = [(p, t) for p, t in zip(predictions, targets, strict=True) if p is not None]
    errors = [abs(p - t) for p, t in pairs]
    metrics: dict[str, float | int | None] = {
        "questions": n, "parsed": len(pairs),
        "parse_failure_rate": (n - len(pairs)) / n if n else None,
        "exact_match": sum(e == 0 for e in errors) / n if n else None}
    for tolerance in tolerances:
        metrics[f"within_{tolerance:g}"] = sum(e <= tolerance for e in errors) / n if n else None
    metrics["mae"] = sum(errors) / len(errors) if errors else None
    metrics["r2"] = r_squared([p for p, _ in pairs], [t for _, t in pairs])
    return metrics


def r_squared(predictions: Sequence[float], targets: Sequence[float]) -> float | None:
    """1 - residual / total sum of squares; None with fewer than two targets or no spread."""
    if len(targets) < 2:
        return None
    mean = sum(targets) / len(targets)
    total = sum((t - mean) ** 2 for t in targets)
    if total == 0:
        return None
    residual = sum((p - t) ** 2 for p, t in zip(predictions, targets, strict=True))
    return 1 - residual / total
