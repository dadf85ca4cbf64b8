"""The answerability gate: its threshold chosen by hand on toy scores, its rates, its reason, and
the product path turning a question away without asking the model."""

import json
import shutil

import pytest

from hybridrag.answers.ask import answer, answer_stream
from hybridrag.answers.gate import (
    CLASSIFIER_FOLDER,
    GATE_FILE,
    Gate,
    best_source_scores,
    choose_gate,
    choose_threshold,
    gate_rates,
    recall_at_caps,
    threshold_for_answerable,
)
from hybridrag.answers.prompt import NO_ANSWER, Source
from hybridrag.answers.scoring import GroundedItem
from hybridrag.chat.generation import TransformersGenerator
from hybridrag.search.rerank import Reranker

from ..conftest import PARAMS, open_searcher


def test_the_highest_threshold_that_turns_away_at_most_the_cap():
    scores = [0.5, 0.1, 0.3, 0.9, 0.7]
    assert threshold_for_answerable(scores, 0.2) == 0.3  # one of five (0.1) below it
    assert threshold_for_answerable(scores, 0.39) == 0.3  # 1.95 of five: still one
    assert threshold_for_answerable(scores, 0.4) == 0.5  # two (0.1, 0.3)
    assert threshold_for_answerable(scores, 0.0) == 0.1  # none below
    assert threshold_for_answerable(scores, 1.0) == 0.9  # all may fall below: the highest score
    assert threshold_for_answerable([], 0.15) is None


def test_the_highest_threshold_within_the_false_abstention_cap():
    answerable = [0.9, 0.8, 0.7, 0.6, 0.2]  # one low-scoring answerable item in five
    unanswerable = [0.1, 0.3, 0.5, 0.65, 0.95]
    # abstain when score < t. t = 0.6 turns away 0.2 (1/5 = 0.2 of answerable) and catches
    # 0.1, 0.3, 0.5; t = 0.65 would also turn away 0.6 (2/5 > 0.2)
    assert choose_threshold(answerable, unanswerable, max_false_abstention=0.2) == 0.6
    # no answerable item may be turned away: t = 0.2 (nothing below it) catches 0.1
    assert choose_threshold(answerable, unanswerable, max_false_abstention=0.0) == 0.2
    # nothing unanswerable scores below the lowest answerable: no gate
    assert choose_threshold([0.5, 0.6], [0.7, 0.9], max_false_abstention=0.0) is None
    assert choose_threshold([], [0.1], 0.1) is None


def test_gate_rates_by_hand():
    rates = gate_rates([0.9, 0.8, 0.7, 0.6, 0.2], [0.1, 0.3, 0.5, 0.65, 0.95], 0.6)
    assert rates == {"threshold": 0.6, "answerable": 5, "unanswerable": 5,
                     "abstention_recall": 0.6,  # 3 of 5 caught
                     "abstention_precision": 0.75,  # 3 of the 4 turned away
                     "false_abstention": 0.2}


def test_recall_at_caps_by_hand():
    answerable = [0.9, 0.8, 0.7, 0.6, 0.2]
    unanswerable = [0.1, 0.3, 0.5, 0.65, 0.95]
    # cap 0: t = 0.2 catches 0.1 (1/5); cap 0.2: t = 0.6 catches 3/5; cap 0.4: t = 0.7 also
    # catches 0.65 (4/5); a cap below one item in five (0.1) allows none: t = 0.2 again
    assert recall_at_caps(answerable, unanswerable, (0.0, 0.1, 0.2, 0.4)) == {
        "0": 0.2, "0.1": 0.2, "0.2": 0.6, "0.4": 0.8}
    assert recall_at_caps([0.5], [0.7], (0.5,)) == {"0.5": 0.0}  # no threshold catches any


def test_choose_gate_scores_the_best_source_of_each_item():
    def score(question, passages):  # a cross-encoder by hand: "yes" in a passage scores 1
        return [float("yes" in p) for p in passages]

    def item(texts, answerable):
        sources = tuple(Source(n, f"d{n}", n, "T", t) for n, t in enumerate(texts, 1))
        return GroundedItem("q?", sources, (1,) if answerable else (), (), "r")

    items = [item(["no", "yes"], True), item(["yes", "no"], True), item(["no", "no"], False),
             item(["no", "yes"], False)]
    scores = best_source_scores(items, score)
    assert scores == [1.0, 1.0, 0.0, 1.0]
    saved, rates = choose_gate(items, ["answer", "answer", "no_answer", "unanswerable"], scores,
                               0.0, "toy")
    assert saved == {"threshold": 1.0, "chosen_on": "toy", "max_false_abstention": 0.0}
    assert rates["gated_by_kind"] == {"answer": 0.0, "no_answer": 1.0, "unanswerable": 0.0}
    assert rates["abstention_recall"] == 0.5 and rates["false_abstention"] == 0.0
    # turning away one answerable item of two (caps below 0.5) is never allowed: 0.5 throughout
    assert set(rates["abstention_recall_by_max_false_abstention"].values()) == {0.5}


def test_a_saved_gate_loads_and_gives_its_reason(tmp_path):
    with pytest.raises(FileNotFoundError, match="choose_gate"):
        Gate.load(tmp_path)
    (tmp_path / GATE_FILE).write_text(json.dumps({"threshold": None, "chosen_on": "x"}))
    assert Gate.load(tmp_path) is None  # chosen, but nothing to gate: off
    (tmp_path / GATE_FILE).write_text(json.dumps({"threshold": 0.25, "chosen_on": "183 items"}))
    gate = Gate.load(tmp_path)
    assert gate == Gate(0.25, "183 items")
    assert gate.reason(0.3) is None and gate.reason(None) is None  # passes; not reranked
    assert "0.10" in gate.reason(0.1) and "0.25" in gate.reason(0.1)


def test_a_gated_question_is_not_asked(tiny_base, small_index, small_reranker):
    _, folder, _, _ = small_reranker
    generator = TransformersGenerator.load(tiny_base, tiny_base, device="cpu")
    settings = PARAMS.answers.updated(sources=2, max_new_tokens=6, batch_size=2, rerank=True,
                                      device="cpu")
    questions = ["the tomato is an edible berry", "jazz improvisation in New Orleans"]
    with open_searcher(small_index, reranker=folder) as searcher:
        best = [max(r.rerank_score for r in searcher.search(q, k=2, rerank=True))
                for q in questions]
        between = Gate((best[0] + best[1]) / 2, "test")  # passes one question, not the other
        low, high = sorted(range(2), key=best.__getitem__)
        gated = answer(generator, searcher, questions, settings, gate=between)
        ungated = answer(generator, searcher, questions, settings)
        streamed = answer_stream(generator, searcher, questions[low], settings, gate=between)
        text = "".join(streamed.stream)
    assert gated[low].text == NO_ANSWER and gated[low].cited == [] and "test" in gated[low].gated
    assert gated[low].sources == ungated[low].sources  # the nearest sources are still shown
    assert gated[high].gated is None and gated[high].text == ungated[high].text
    assert text == NO_ANSWER and streamed.answer().gated == gated[low].gated


def test_a_missing_gate_is_an_error_for_a_stage_and_a_warning_for_the_cli(tmp_path, caplog):
    with pytest.raises(FileNotFoundError, match="choose_gate"):
        Gate.load(tmp_path, required=True)
    with caplog.at_level("WARNING", logger="hybridrag.answers"):
        assert Gate.load(tmp_path, required=False) is None
    assert f"no answerability gate at {tmp_path / GATE_FILE}" in caplog.text
    assert "answering without it" in caplog.text


def test_a_gate_with_a_classifier_scores_the_passages_the_model_reads(tmp_path, small_reranker):
    _, folder, _, _ = small_reranker
    shutil.copytree(folder, tmp_path / CLASSIFIER_FOLDER)
    (tmp_path / GATE_FILE).write_text(json.dumps({"threshold": 0.5, "chosen_on": "toy"}))
    gate = Gate.load(tmp_path, device="cpu")
    sources = [Source(1, "d1", 1, "Tomato", "The tomato is an edible berry."),
               Source(2, "d2", 2, "Jazz", "Jazz began in New Orleans.")]
    expected = max(Reranker.load(folder, "cpu").scores("is the tomato a berry",
                                                       [s.text for s in sources]))
    score = gate.score("is the tomato a berry", sources, reranked_best=99.0)
    assert score == pytest.approx(float(expected), abs=1e-6)  # its own score, not the reranker's
    assert gate.score("q", [], None) == float("-inf")  # nothing retrieved: it abstains
    assert "answerability classifier" in Gate(0.5, "toy", gate.classifier).reason(0.1)
    assert Gate(0.5, "toy").score("q", sources, 0.3) == 0.3  # without one: the reranker's best


class CountingClassifier:
    """A classifier that records how many passages it was asked to score."""

    def __init__(self, classifier: Reranker):
        self.classifier = classifier
        self.scored: list[int] = []

    def scores(self, question, passages):
        self.scored.append(len(passages))
        return self.classifier.scores(question, passages)


def test_the_gate_decides_as_its_best_score_does_scoring_the_rest_only_when_the_first_fails(
        small_reranker):
    _, folder, _, _ = small_reranker
    classifier = Reranker.load(folder, "cpu")
    question = "is the tomato a berry"
    passages = [("d2", 2, "Jazz", "Jazz began in New Orleans."),
                ("d1", 1, "Tomato", "The tomato is an edible berry."),
                ("d3", 3, "Rome", "Rome is the capital of Italy.")]
    # A briefly trained classifier ranks these three differently on different CPUs (AVX2 or
    # AVX-512 training numerics), so the sources are numbered by its own scores, lowest first:
    # then one threshold passes the question on a later source whatever the order is.
    listed_scores = classifier.scores(question, [text for *_, text in passages])
    by_score = [passage for _, passage in sorted(zip(listed_scores, passages, strict=True))]
    sources = [Source(number, *passage) for number, passage in enumerate(by_score, start=1)]
    scores = [float(s) for s in classifier.scores(question, [s.text for s in sources])]
    first, best = scores[0], max(scores)
    assert len(set(scores)) == 3 and first < best  # a classifier that tells the passages apart
    cuts = sorted(set(scores))
    thresholds = ([cuts[0] - 1.0, cuts[-1] + 1.0]  # every source passes; none does
                  + [(low + high) / 2 for low, high in zip(cuts, cuts[1:], strict=False)])  # between
                  # two neighbouring scores
    for threshold in thresholds:
        counting = CountingClassifier(classifier)
        decided = Gate(threshold, "toy", counting).decide(question, sources, reranked_best=None)
        assert decided == Gate(threshold, "toy", classifier).reason(best)
        assert (decided is None) == (best >= threshold)
        # the first source alone when it passes; else the other two as well
        assert counting.scored == ([1] if first >= threshold else [1, 2])
        if decided is not None:
            assert f"{best:.2f}" in decided  # the reason gives the best of all three
    assert Gate(0.5, "toy", classifier).decide(question, [], None) is not None  # nothing retrieved
    assert Gate(0.5, "toy").decide(question, sources, 0.4) == Gate(0.5, "toy").reason(0.4)
