"""How well the answerability gate's threshold travels between articles: the classifier trained
with one fold of the training articles left out scores that fold's conversations (out-of-fold
scores), so that a threshold can be chosen on every training question instead of the validation
articles' few, and each fold's false abstention at it shows the spread from article to article.
Then the other way round: the committed gate, chosen on validation, measured on test
(`transfer_figures`), and per kind of question the sources cannot answer (`kind_figures`),
questions about documents not indexed among them (`out_of_corpus_rows`)."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import roc_auc_score

from hybridrag.answers.gate import best_source_scores, choose_threshold, gate_rates
from hybridrag.answers.scoring import GroundedItem, SentenceScorer

if TYPE_CHECKING:
    from hybridrag.config import Params
    from hybridrag.search.rerank import Reranker


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


def bootstrap_thresholds(answerable: Sequence[float], unanswerable: Sequence[float],
                         max_false_abstention: float, draws: int, seed: int) -> list[float]:
    """The threshold `choose_threshold` picks on each of `draws` bootstrap resamples of the
    scored items (answerable and unanswerable resampled apart, so each keeps its count): how
    much the choice moves with the few questions it is made on. Resamples where it picks none
    are left out."""
    rng = random.Random(seed)
    thresholds = []
    for _ in range(draws):
        threshold = choose_threshold(rng.choices(answerable, k=len(answerable)),
                                     rng.choices(unanswerable, k=len(unanswerable)),
                                     max_false_abstention)
        if threshold is not None:
            thresholds.append(threshold)
    return thresholds


SPLITS = ("validation", "test")
PERCENTILES = (5, 50, 95)


def kind_figures(answerable: Sequence[float], unanswerable_by_kind: Mapping[str, Sequence[float]],
                 threshold: float) -> dict[str, dict[str, Any]]:
    """Per kind of question the sources cannot answer: how many, the ROC AUC of the answerable
    questions' scores against that kind's, and the share of them the gate at `threshold` turns
    away (kinds without questions are left out)."""
    return {kind: {"questions": len(scores),
                   "roc_auc": auc(list(answerable), list(scores)),
                   "abstention_recall": round(sum(s < threshold for s in scores) / len(scores), 4)}
            for kind, scores in unanswerable_by_kind.items() if scores}


def out_of_corpus_rows(params: Params, tokenizer: Any, reranker: Reranker | None, folder: Path,
                       split: str, corpus_split: str) -> list[dict[str, Any]]:
    """The RAG loop's questions of `split` (sampled as `rag_loop_rows` samples them) asked of an
    index, in `folder`, of `corpus_split`'s articles only: questions about what the documents do
    not cover, whose every retrieved source lacks the answer."""
    from hybridrag.answers.prompt import token_trimmer
    from hybridrag.pipeline import index_documents
    from hybridrag.search.searcher import Searcher
    from hybridrag.sft.reading import paragraph_documents, reading_articles, retrieved_examples

    reading, answers, seed = params.sft.chatml.reading, params.answers, params.sft.chatml.seed
    trim = token_trimmer(tokenizer, answers.source_tokens)
    articles = reading_articles(reading, seed, trim)[0]
    index_documents(folder, paragraph_documents(articles[corpus_split]), params.chunk,
                    params.embed, params.build_db)
    limit = reading.max_validation if split == "validation" else reading.max_test
    with Searcher(folder, params.retrieval.updated(embedding="base"), params.rerank.first_stage,
                  device=answers.device, reranker=reranker if answers.rerank else None,
                  rerank_depth=params.rerank.depth) as searcher:
        return [example.row() for example in retrieved_examples(
            articles[split], searcher, trim, answers.sources, answers.rerank, limit, seed)]


def auc(answerable: list[float], unanswerable: list[float]) -> float:
    """ROC AUC of answerable (positive) against unanswerable scores."""
    labels = [1] * len(answerable) + [0] * len(unanswerable)
    return round(float(roc_auc_score(labels, answerable + unanswerable)), 4)


def transfer_figures(scores: Mapping[str, Mapping[str, tuple[list[float], list[float]]]],
                     threshold: float, cap: float, draws: int, seed: int) -> dict[str, Any]:
    """How the gate chosen on validation does on test, from each split's scorers' (answerable,
    unanswerable) scores (`scores[split][scorer]`, with a "classifier"): ROC AUC per split and
    scorer, the classifier's rates at `threshold` per split and at the threshold the rule would
    pick on test itself, and the bootstrap spread of the rule's threshold on validation with its
    rates on test (percentiles `PERCENTILES`)."""
    validation, test = scores["validation"]["classifier"], scores["test"]["classifier"]
    thresholds = bootstrap_thresholds(*validation, cap, draws, seed)
    on_test = [gate_rates(*test, t) for t in thresholds]

    def spread(values: list[float]) -> list[float]:
        return [round(float(v), 4) for v in np.percentile(values, PERCENTILES)] if values else []

    return {
        "max_false_abstention": cap,
        "roc_auc": {split: {name: auc(*pair) for name, pair in by_scorer.items()}
                    for split, by_scorer in scores.items()},
        "committed_threshold": {split: gate_rates(*by_scorer["classifier"], threshold)
                                for split, by_scorer in scores.items()},
        "test_threshold_chosen_on_test": gate_rates(*test, choose_threshold(*test, cap)),
        "bootstrap": {
            "draws": draws, "thresholds_chosen": len(thresholds), "percentiles": list(PERCENTILES),
            "threshold": spread(thresholds),
            "test_false_abstention": spread([r["false_abstention"] for r in on_test]),
            "test_abstention_recall": spread([r["abstention_recall"] for r in on_test]),
            "share_over_cap_on_test": (round(float(np.mean(
                [r["false_abstention"] > cap for r in on_test])), 4) if on_test else None)},
    }
