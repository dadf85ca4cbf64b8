"""The one scorer of grounded answers, case by case and summarised by hand."""

import pytest

from hybridrag.answers.prompt import NO_ANSWER, Source
from hybridrag.answers.scoring import (
    GroundedItem,
    abstains,
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
