"""How well the answerability gate's threshold travels between articles: the classifier trained
with one fold of the training articles left out scores that fold's conversations (out-of-fold
scores), so that a threshold can be chosen on every training question instead of the validation
articles' few, and each fold's false abstention at it shows the spread from article to article."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hybridrag.answers.gate import best_source_scores, gate_rates
from hybridrag.answers.scoring import GroundedItem, SentenceScorer


def article_folds(titles: Sequence[str], k: int, seed: int) -> list[list[str]]:
    """The article `titles` in a seeded order, dealt into `k` folds (sizes differ by at most one)."""
    if not 2 <= k <= len(titles):
        raise ValueError(f"cannot deal {len(titles)} articles into {k} folds: use 2 to {len(titles)}")
    order = sorted(titles)
    random.Random(seed).shuffle(order)
    return [order[i::k] for i in range(k)]


def out_of_fold_scores(items: Sequence[GroundedItem], article_of: Mapping[str, str],
                       folds: Sequence[Sequence[str]],
                       train_without: Callable[[Sequence[str]], SentenceScorer]) -> list[float]:
    """Each item's best source score by the classifier `train_without(fold)` returns for the
    fold holding its question's article (`article_of`: question -> article title)."""
    fold_of = {title: n for n, fold in enumerate(folds) for title in fold}
    missing = sorted({item.question for item in items} - set(article_of))
    if missing:
        raise ValueError(f"{len(missing)} questions have no article, e.g. {missing[0]!r}")
    scores: list[float] = [0.0] * len(items)
    for n, fold in enumerate(folds):
        held_out = [i for i, item in enumerate(items) if fold_of[article_of[item.question]] == n]
        fold_scores = best_source_scores([items[i] for i in held_out], train_without(fold))
        for i, score in zip(held_out, fold_scores, strict=True):
            scores[i] = score
    return scores


def by_answerability(items: Sequence[GroundedItem], scores: Sequence[float]
                     ) -> tuple[list[float], list[float]]:
    """The scores of the answerable items, and of the others."""
    pairs = list(zip(scores, items, strict=True))
    return ([s for s, item in pairs if item.answerable],
            [s for s, item in pairs if not item.answerable])


def rates_by_fold(items: Sequence[GroundedItem], scores: Sequence[float],
                  article_of: Mapping[str, str], folds: Sequence[Sequence[str]],
                  threshold: float | None) -> list[dict[str, Any]]:
    """`gate_rates` at `threshold` on each fold's items alone, with the fold's articles."""
    rows = []
    for fold in folds:
        kept = [i for i, item in enumerate(items) if article_of[item.question] in fold]
        answerable, unanswerable = by_answerability([items[i] for i in kept],
                                                    [scores[i] for i in kept])
        rows.append({"articles": list(fold), **gate_rates(answerable, unanswerable, threshold)})
    return rows
