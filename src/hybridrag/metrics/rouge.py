"""ROUGE-L F1 (longest common subsequence), tokenized as the rouge-score package does."""

from __future__ import annotations

import re

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def rouge_tokens(text: str) -> list[str]:
    """Lower-cased runs of ASCII letters and digits (rouge-score's default, no stemming)."""
    return _NON_ALNUM.sub(" ", text.lower()).split()


def lcs_length(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """F1 of LCS precision (over the candidate) and recall (over the reference)."""
    predicted, target = rouge_tokens(candidate), rouge_tokens(reference)
    if not predicted or not target:
        return 0.0
    common = lcs_length(predicted, target)
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(target)
    return 2 * precision * recall / (precision + recall)
