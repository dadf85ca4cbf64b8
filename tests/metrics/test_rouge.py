import random

import pytest
from rouge_score import rouge_scorer

from hybridrag.metrics.rouge import lcs_length, rouge_l, rouge_tokens


def test_lcs_and_f1_by_hand():
    assert lcs_length("a b c d".split(), "a c d e".split()) == 3
    # candidate 4 tokens, reference 4 tokens, LCS 3: P = R = 3/4
    assert rouge_l("A b, c d!", "a c d e") == pytest.approx(0.75)
    assert rouge_l("", "a") == 0.0 and rouge_l("x y", "a b") == 0.0
    assert rouge_tokens("It's 5 O'Clock") == ["it", "s", "5", "o", "clock"]


def test_agrees_with_rouge_score():
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rng = random.Random(3)
    words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "Fast!", "2024", "it's"]
    for _ in range(200):
        candidate = " ".join(rng.choices(words, k=rng.randint(0, 12)))
        reference = " ".join(rng.choices(words, k=rng.randint(1, 12)))
        expected = scorer.score(reference, candidate)["rougeL"].fmeasure
        assert rouge_l(candidate, reference) == pytest.approx(expected, abs=1e-9)
