"""The gate calibration benchmark's parts, by hand: article folds, out-of-fold scores from the
classifier that never saw the item's article, and rates per fold."""

import random

import pytest

from hybridrag.answers.prompt import Source
from hybridrag.answers.scoring import GroundedItem
from hybridrag.sft.reading import read_squad, split_articles
from support.gate_calibration import (
    article_folds,
    bootstrap_thresholds,
    by_answerability,
    kind_figures,
    out_of_corpus_rows,
    out_of_fold_scores,
    rates_by_fold,
    transfer_figures,
)

from .sft.test_reading import keep, params, squad_file


def item(question: str, answerable: bool) -> GroundedItem:
    return GroundedItem(question, (Source(1, "d", 1, "T", "a passage"),),
                        (1,) if answerable else (), (), "r")


def test_article_folds_deal_every_title_once_in_a_seeded_order():
    titles = ["a", "b", "c", "d", "e"]
    folds = article_folds(titles, 2, seed=13)
    assert sorted(t for fold in folds for t in fold) == titles
    assert sorted(len(fold) for fold in folds) == [2, 3]
    assert folds == article_folds(list(reversed(titles)), 2, seed=13)  # the input order is not used
    with pytest.raises(ValueError, match="into 6 folds: use 2 to 5"):
        article_folds(titles, 6, seed=13)


def test_each_item_is_scored_by_the_classifier_trained_without_its_fold():
    items = [item("q1", True), item("q2", False), item("q3", True)]
    article_of = {"q1": "A", "q2": "B", "q3": "A"}
    folds = [["A"], ["B"]]
    trained_without = []

    def train_without(fold):  # a "classifier" that scores 10 + the number of the fold it lacks
        trained_without.append(list(fold))
        value = 10.0 + folds.index(list(fold))
        return lambda question, passages: [value for _ in passages]

    assert out_of_fold_scores(items, article_of, folds, train_without) == [10.0, 11.0, 10.0]
    assert trained_without == folds  # one classifier per fold
    with pytest.raises(ValueError, match="no article, e.g. 'q3'"):
        out_of_fold_scores(items, {"q1": "A", "q2": "B"}, folds, train_without)


def test_rates_by_fold_by_hand():
    items = [item("q1", True), item("q2", True), item("q3", False), item("q4", True),
             item("q5", False)]
    article_of = {"q1": "A", "q2": "A", "q3": "A", "q4": "B", "q5": "B"}
    scores = [0.9, 0.2, 0.1, 0.8, 0.7]
    by_fold = rates_by_fold(items, scores, article_of, [["A"], ["B"]], 0.5)
    # fold A: turns away q2 (answerable, 1 of 2) and q3 (1 of 1 unanswerable)
    assert by_fold[0] == {"articles": ["A"], "threshold": 0.5, "answerable": 2, "unanswerable": 1,
                          "abstention_recall": 1.0, "abstention_precision": 0.5,
                          "false_abstention": 0.5}
    assert by_answerability(items, scores) == ([0.9, 0.2, 0.8], [0.1, 0.7])
    # fold B: nothing below 0.5
    assert by_fold[1]["false_abstention"] == 0.0 and by_fold[1]["abstention_recall"] == 0.0


def test_bootstrap_thresholds_are_the_rule_applied_to_each_resample():
    # separable scores: every resample holds only 0.9s and 0.1s, and the rule picks 0.9
    assert bootstrap_thresholds([0.9] * 10, [0.1] * 10, 0.15, draws=50, seed=1) == [0.9] * 50
    # answerable 0.2 and 0.8, unanswerable 0.1: the rule picks 0.8 when at most 15% of the
    # resampled answerable scores are 0.2, else 0.2; by hand for one seeded draw
    answerable, unanswerable = [0.2, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8], [0.1] * 5
    rng = random.Random(7)
    draw = rng.choices(answerable, k=10)
    expected = 0.8 if draw.count(0.2) <= 1.5 else 0.2
    assert bootstrap_thresholds(answerable, unanswerable, 0.15, draws=1, seed=7) == [expected]
    thresholds = bootstrap_thresholds(answerable, unanswerable, 0.15, draws=200, seed=3)
    assert set(thresholds) == {0.2, 0.8} and len(thresholds) == 200
    # no unanswerable score below any threshold: the rule picks none, the draw is left out
    assert bootstrap_thresholds([0.5] * 4, [0.9] * 4, 0.15, draws=5, seed=0) == []


def test_transfer_figures_by_hand():
    scores = {"validation": {"classifier": ([0.9, 0.8, 0.7], [0.1, 0.2]),
                             "reranker": ([0.5, 0.4, 0.3], [0.6, 0.1])},
              "test": {"classifier": ([0.9, 0.8], [0.1, 0.85]),
                       "reranker": ([0.2, 0.3], [0.4, 0.5])}}
    figures = transfer_figures(scores, threshold=0.7, cap=0.15, draws=20, seed=0)
    # AUC: the share of (answerable, unanswerable) pairs ordered right
    assert figures["roc_auc"] == {"validation": {"classifier": 1.0, "reranker": 3 / 6},
                                  "test": {"classifier": 0.75, "reranker": 0.0}}
    # at 0.7 validation turns away both unanswerable and no answerable; test turns away 0.1 only
    assert figures["committed_threshold"]["validation"]["abstention_recall"] == 1.0
    assert figures["committed_threshold"]["test"]["abstention_recall"] == 0.5
    assert figures["committed_threshold"]["test"]["false_abstention"] == 0.0
    # on test itself the rule picks 0.8 (no answerable below it; 0.85 would lose 0.8)
    assert figures["test_threshold_chosen_on_test"]["threshold"] == 0.8
    # every validation resample is separable, so each threshold is one of its answerable scores,
    # none of which turns away a test answerable item except 0.9 (turns away 0.8: 50%)
    boot = figures["bootstrap"]
    thresholds = bootstrap_thresholds([0.9, 0.8, 0.7], [0.1, 0.2], 0.15, 20, 0)
    assert boot["thresholds_chosen"] == 20 and set(thresholds) <= {0.7, 0.8, 0.9}
    assert boot["share_over_cap_on_test"] == pytest.approx(thresholds.count(0.9) / 20)


def test_kind_figures_by_hand():
    figures = kind_figures([0.9, 0.8, 0.3], {"missed": [0.1, 0.5], "none": []}, threshold=0.4)
    # (answerable, missed) pairs ordered right: 0.9 and 0.8 above both, 0.3 above 0.1 only: 5 of 6;
    # at 0.4 the gate turns away 0.1, not 0.5; a kind without questions is left out
    assert figures == {"missed": {"questions": 2, "roc_auc": round(5 / 6, 4),
                                  "abstention_recall": 0.5}}


def test_out_of_corpus_questions_are_asked_of_the_other_split_s_articles(tmp_path, smol_tokenizer):
    from .conftest import MODEL, PARAMS

    path = squad_file(tmp_path)
    settings = PARAMS.updated(
        answers=PARAMS.answers.updated(source_tokens=160, rerank=False, sources=2, device="cpu"),
        embed=PARAMS.embed.updated(model=MODEL, device="cpu"),
        sft=PARAMS.sft.updated(chatml=PARAMS.sft.chatml.updated(
            source="reading", reading=params(path=str(path)))))
    rows = out_of_corpus_rows(settings, smol_tokenizer, None, tmp_path / "index", "test",
                              "validation")
    splits = split_articles(read_squad(path, keep)[0], 1, 1, PARAMS.sft.chatml.seed)
    test, validation = splits["test"][0].title, splits["validation"][0].title
    assert len(rows) == 12  # every question of the one test article (3 paragraphs x 4)
    assert {r["meta"]["query_id"].split("-")[0] for r in rows} == {test}
    for row in rows:  # every source from the other article: nothing answers, nothing is cited
        assert [s["doc_id"].split("#")[0] for s in row["meta"]["sources"]] == [validation] * 2
        assert row["meta"]["relevant"] == [] and row["meta"]["kind"] != "answer"
