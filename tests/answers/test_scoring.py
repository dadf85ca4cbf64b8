"""The one scorer of grounded answers, case by case and summarised by hand."""

import pytest

from hybridrag.answers.prompt import NO_ANSWER, Source
from hybridrag.answers.scoring import (
    GroundedItem,
    abstains,
    extractive_reply,
    judge,
    score_reply,
    summarize,
    top_source_reply,
)

SOURCES = (Source(1, "d1", 1, "Potato", "The potato is a tuber. It grows underground."),
           Source(2, "d2", 2, "Tomato", "The tomato is a berry. It is red."))
ANSWERABLE = GroundedItem("What is the berry?", SOURCES, (2,), ("Tomato",),
                          "[2] Tomato: The tomato is a berry.")
UNANSWERABLE = GroundedItem("What is the fish?", SOURCES, (), ("Salmon",), NO_ANSWER)


@pytest.mark.parametrize("reply,stopped,faults", [
    ("[2] Tomato: The tomato is a berry.", True, []),
    ("The tomato is a berry. [2]", True, []),
    ("The tomato is a berry. [1]", True, ["wrong_citation"]),
    ("The tomato is a berry. [1] [2]", True, ["extra_citation"]),
    ("Tomato is a berry.", True, ["missing_citation"]),
    ("It is a berry [2].", True, ["wrong_title"]),
    ("The sources do not contain the answer.", True, ["false_abstention"]),
    ("The tomato is a berry. [2] and so on and", False, ["not_stopped"]),
])
def test_faults_of_replies_to_an_answerable_question(reply, stopped, faults):
    assert score_reply(ANSWERABLE, reply, stopped).faults(ANSWERABLE) == faults


@pytest.mark.parametrize("reply,faults", [
    (NO_ANSWER, []),
    ("I don't know; no source mentions it.", []),
    ("The potato is a tuber. [1]", ["answered_unanswerable"]),
])
def test_faults_of_replies_when_the_sources_lack_the_answer(reply, faults):
    assert score_reply(UNANSWERABLE, reply, True).faults(UNANSWERABLE) == faults


@pytest.mark.parametrize("text,expected", [
    (NO_ANSWER, True), ("The sources don't say.", True), ("I cannot answer that.", True),
    ("There is no information about it.", True), ("The tomato is red [2].", False),
    ("It does not grow in winter [1].", False),
])
def test_abstention_is_recognised(text, expected):
    assert abstains(text) is expected


def test_well_formed_means_it_stops_and_cites_or_abstains():
    assert score_reply(ANSWERABLE, "Tomato [2].", True).well_formed
    assert score_reply(UNANSWERABLE, NO_ANSWER, True).well_formed
    assert not score_reply(ANSWERABLE, "Tomato.", True).well_formed
    assert not score_reply(ANSWERABLE, "Tomato [2].", False).well_formed


def test_summary_by_hand():
    items = [ANSWERABLE, ANSWERABLE, UNANSWERABLE, UNANSWERABLE]
    replies = [("[2] Tomato: The tomato is a berry.", True), ("Potato [1].", True), (NO_ANSWER, True),
               ("Potato [1].", False)]
    summary = summarize(items, [score_reply(i, r, s) for i, (r, s) in zip(items, replies, strict=True)])
    # answerable: 1 of 2 cites [2], 1 of 2 names "Tomato"; unanswerable: 1 of 2 abstains;
    # well formed: the first three (the last did not stop); ROUGE-L: 1, 0, 1, 0 -> 0.5
    assert summary == {"items": 4, "answerable": 2, "unanswerable": 2, "cites_relevant": 0.5,
                       "cites_wrong": 0.5, "names_title": 0.5, "false_abstention": 0.0,
                       "abstains_unanswerable": 0.5,
                       "cites_any": 0.75, "well_formed": 0.75, "stopped": 0.75, "rouge_l": 0.5,
                       "reply_words": pytest.approx(4.5)}


def test_judge_finds_the_relevant_sources_and_builds_the_reference():
    item = judge("q", SOURCES, {"d2", "d9"}, {"d2": "Tomato", "d9": "Berry"})
    assert item.relevant == (2,) and item.titles == ("Tomato", "Berry")
    assert item.reference == "[2] Tomato: The tomato is a berry."
    assert judge("q", SOURCES, {"d9"}, {"d9": "Berry"}).reference == NO_ANSWER
    assert top_source_reply(item) == "[1] Potato: The potato is a tuber."


# Reading items (SQuAD style): the gold spans; an abstention is the empty answer.
READ_SOURCES = (Source(1, "Art#0", 0, "Art", "The Mona Lisa hangs in the Louvre."),
                Source(2, "Art#1", 1, "Art", "Leonardo da Vinci painted the Mona Lisa."))
READ_ANSWERABLE = GroundedItem("Who painted the Mona Lisa?", READ_SOURCES, (2,), (),
                               "[2] Leonardo da Vinci",
                               answers=("Leonardo da Vinci", "da Vinci"))
READ_UNANSWERABLE = GroundedItem("Who stole the Mona Lisa?", READ_SOURCES, (), (), NO_ANSWER,
                                 answers=())


@pytest.mark.parametrize("item,reply,exact,f1", [
    (READ_ANSWERABLE, "[2] Leonardo da Vinci", 1.0, 1.0),
    (READ_ANSWERABLE, "[2] Da Vinci.", 1.0, 1.0),  # the second gold span, normalised
    # "leonardo painted mona lisa" against "leonardo da vinci": 1 common token, P 1/4, R 1/3
    (READ_ANSWERABLE, "[2] Leonardo painted the Mona Lisa.", 0.0, 2 * (1 / 4) * (1 / 3) / (1 / 4 + 1 / 3)),
    (READ_ANSWERABLE, NO_ANSWER, 0.0, 0.0),  # abstaining on an answerable item
    (READ_UNANSWERABLE, NO_ANSWER, 1.0, 1.0),  # abstaining on an unanswerable one
    (READ_UNANSWERABLE, "[1] The Louvre", 0.0, 0.0),
])
def test_reading_scores_follow_the_official_squad2_convention(item, reply, exact, f1):
    from tests.metrics.test_squad import official_scores

    score = score_reply(item, reply, True)
    assert (score.exact, score.f1) == pytest.approx((exact, f1))
    # the official script, given what the reply answers ("" for an abstention)
    answer = "" if score.abstained else reply.split("] ", 1)[-1]
    assert (score.exact, score.f1) == pytest.approx(official_scores(list(item.answers), answer))


def test_grounded_items_get_no_reading_scores():
    score = score_reply(ANSWERABLE, "[2] Tomato: The tomato is a berry.", True)
    assert (score.exact, score.f1) == (None, None)
    assert "f1" not in summarize([ANSWERABLE], [score])


def test_reading_summary_by_hand():
    gold_first = GroundedItem("Where does it hang?", READ_SOURCES, (1,), (), "[1] the Louvre",
                              answers=("the Louvre",))
    items = [READ_ANSWERABLE, gold_first, READ_UNANSWERABLE, READ_UNANSWERABLE]
    replies = ["[2] Leonardo da Vinci",  # EM 1, F1 1, cites the gold (not [1])
               "[2] Paris",  # EM 0, F1 0, cites a wrong source
               NO_ANSWER,  # unanswerable, abstains: 1
               "[1] Vincenzo Peruggia"]  # unanswerable, answers: 0
    summary = summarize(items, [score_reply(i, r, True) for i, r in zip(items, replies, strict=True)])
    assert summary["exact_match"] == 0.5 and summary["f1"] == 0.5
    assert summary["overall_exact"] == 0.5 and summary["overall_f1"] == 0.5  # (1+0+1+0)/4
    assert summary["cites_relevant_not_first"] == 1.0  # only READ_ANSWERABLE's gold is not [1]
    assert summary["abstains_unanswerable"] == 0.5 and summary["false_abstention"] == 0.0
    assert summary["names_title"] is None  # reading items name no titles
    assert summary["reading_items"] == 4


def test_the_extractive_baseline_cites_the_best_scored_sentence():
    def overlap(question, candidates):  # a scorer by hand: words shared with the question
        asked = set(question.lower().strip("?").split())
        return [len(asked & set(c.lower().strip(".").split())) for c in candidates]

    item = GroundedItem("Who painted the Mona Lisa?", READ_SOURCES + (
        Source(3, "Art#2", 2, "Art", "It is small. It was painted by Leonardo da Vinci."),), (3,), (),
        "[3] Leonardo da Vinci", answers=("Leonardo da Vinci",))
    # "Leonardo da Vinci painted the Mona Lisa." shares painted, the, mona, lisa: 4 words
    assert extractive_reply(item, overlap) == "[2] Leonardo da Vinci painted the Mona Lisa."
    assert extractive_reply(READ_UNANSWERABLE, overlap).startswith("[")  # it never abstains


@pytest.mark.parametrize("reply,faults", [
    ("[2] Leonardo da Vinci", []),
    ("[2] Leonardo painted the Mona Lisa.", ["wrong_span"]),  # F1 2/7 < 0.5
    ("[1] Leonardo da Vinci", ["wrong_citation"]),  # the right span, the wrong source
    ("[1] The Louvre", ["wrong_citation", "wrong_span"]),
    (NO_ANSWER, ["false_abstention"]),
])
def test_faults_of_reading_replies(reply, faults):
    assert score_reply(READ_ANSWERABLE, reply, True).faults(READ_ANSWERABLE) == faults


def test_a_question_whose_paragraph_was_not_retrieved_counts_in_answer_f1():
    missed = GroundedItem("Who painted the Mona Lisa?", READ_SOURCES[:1], (), (), NO_ANSWER,
                          answers=("Leonardo da Vinci",))  # the full RAG loop missed it
    items = [READ_ANSWERABLE, missed]
    summary = summarize(items, [score_reply(READ_ANSWERABLE, "[2] Leonardo da Vinci", True),
                                score_reply(missed, NO_ANSWER, True)])
    assert summary["f1"] == 0.5 and summary["overall_f1"] == 0.5  # (1 + 0) / 2
    assert summary["answerable"] == 1  # by the sources: only the first can be answered from them
