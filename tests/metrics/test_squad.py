"""SQuAD scores by hand, and equal to the official evaluation script's functions (v2.0)."""

import collections
import re
import string

import pytest

from hybridrag.metrics.squad import exact_match, normalize_answer, token_f1


# The official SQuAD 2.0 evaluation script's functions, verbatim in substance (evaluate-v2.0.py)
def official_normalize(s):
    def remove_articles(text):
        return re.sub(re.compile(r"\b(a|an|the)\b", re.UNICODE), " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def official_f1(a_gold, a_pred):
    gold_toks = official_normalize(a_gold).split() if a_gold else []
    pred_toks = official_normalize(a_pred).split() if a_pred else []
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def official_scores(golds, prediction):
    golds = [a for a in golds if official_normalize(a)] or [""]
    return (max(int(official_normalize(a) == official_normalize(prediction)) for a in golds),
            max(official_f1(a, prediction) for a in golds))


CASES = [
    (["Denver Broncos"], "the Denver Broncos", 1.0, 1.0),
    (["Denver Broncos"], "Broncos", 0.0, 2 / 3),  # precision 1, recall 1/2
    (["Saint Bernadette Soubirous", "a copper statue"], "A copper statue of Christ", 0.0, 2 / 3),
    (["1990s"], "in the late 1990s.", 0.0, 0.5),  # "in late 1990s": precision 1/3, recall 1
    ([], "", 1.0, 1.0),  # unanswerable: only saying nothing matches
    ([], "Paris", 0.0, 0.0),
    (["Paris"], "", 0.0, 0.0),
]


@pytest.mark.parametrize("golds,prediction,em,f1", CASES)
def test_scores_by_hand_and_as_the_official_script(golds, prediction, em, f1):
    assert exact_match(prediction, golds) == em
    assert token_f1(prediction, golds) == pytest.approx(f1)
    assert (exact_match(prediction, golds), token_f1(prediction, golds)) == pytest.approx(
        official_scores(golds, prediction))


def test_normalisation():
    assert normalize_answer("  The Eiffel-Tower, in PARIS!  ") == "eiffeltower in paris"
    assert normalize_answer("  The Eiffel-Tower, in PARIS!  ") == official_normalize(
        "  The Eiffel-Tower, in PARIS!  ")
