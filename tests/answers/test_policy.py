"""What the product shows, by hand: a model's abstention past the gate replaced by the
cross-encoder's best sentence (answers.on_model_abstention: extractive), and every pairing of
gate cap and fallback scored on a toy set whose SQuAD rates are worked out below; `ask` and its
stream apply it."""

import re

import pytest

from hybridrag.answers.ask import answer, answer_stream
from hybridrag.answers.policy import best_setting, policy_key, product_policies, shown_reply
from hybridrag.answers.prompt import NO_ANSWER, Source
from hybridrag.answers.scoring import GroundedItem
from hybridrag.chat.generation import Generated

from ..conftest import PARAMS, open_searcher
from .test_attribution import ScriptedGenerator

SOURCES = (Source(1, "a", 0, "Louvre", "The Louvre is in Paris."),
           Source(2, "b", 1, "Mona Lisa", "Leonardo da Vinci painted the Mona Lisa."))


def overlap(question, sentences):
    """A cross-encoder by hand: the number of words a sentence shares with the question."""
    words = set(re.findall(r"\w+", question.lower()))
    return [len(words & set(re.findall(r"\w+", s.lower()))) for s in sentences]


def test_an_abstention_past_the_gate_shows_the_best_sentence_when_asked_to():
    question, abstained = "Who painted the Mona Lisa?", Generated(NO_ANSWER, True)
    shown = shown_reply(question, SOURCES, abstained, True, "extractive", overlap)
    assert (shown.text, shown.extracted) == ("[2] Leonardo da Vinci painted the Mona Lisa.", True)
    assert shown_reply(question, SOURCES, abstained, True, "keep", overlap).text == NO_ANSWER
    assert shown_reply(question, SOURCES, abstained, True, "extractive", None).text == NO_ANSWER
    answered = shown_reply(question, SOURCES, Generated("[1] Leonardo da Vinci", False), True,
                           "extractive", overlap)  # an answer is kept, its citation moved
    assert (answered.text, answered.stopped, answered.extracted) == \
        ("[2] Leonardo da Vinci", False, False)


def item(question, relevant, answers):
    return GroundedItem(question, SOURCES, relevant, (), "r", answers)


def test_product_policies_by_hand():
    items = [item("Who painted the Mona Lisa?", (2,), ("Leonardo da Vinci",)),
             item("Where is the Louvre?", (1,), ("Paris",)),
             item("Who built the Eiffel Tower?", (), ()),
             item("When did the Louvre close?", (), ())]
    replies = [Generated(t, True) for t in (NO_ANSWER, "[1] Paris", "[1] Paris", NO_ANSWER)]
    gate_scores = [0.9, 0.8, 0.1, 0.85]
    table = product_policies(items, replies, gate_scores, True, overlap, caps=(0.05, 0.5))
    # Per item F1: the Mona Lisa abstention 0, its extractive sentence 2*0.5*1/1.5 = 2/3 (six
    # words against three); Paris 1; answering the Eiffel question 0, abstaining 1; the Louvre
    # question abstains (1), or its extractive sentence is the Louvre's (0). Cap 0.05 allows
    # no answerable item below the threshold: 0.8 (catches the Eiffel question); cap 0.5 one
    # in two: 0.9 (catches both unanswerable questions and turns Paris away).
    expected = {
        "no gate, keep": (None, 0.5, 0.5, 0.5, 0.5),
        "no gate, extractive": (None, 0.4167, 0.8333, 0.0, 0.0),
        "gate 0.05, keep": (0.8, 0.75, 0.5, 1.0, 0.5),
        "gate 0.05, extractive": (0.8, 0.6667, 0.8333, 0.5, 0.0),
        "gate 0.5, keep": (0.9, 0.5, 0.0, 1.0, 1.0),
        "gate 0.5, extractive": (0.9, 0.6667, 0.3333, 1.0, 0.5),
    }
    assert {name: (row["threshold"], row["overall_f1"], row["f1"], row["abstains_unanswerable"],
                   row["false_abstention"]) for name, row in table.items()} == expected


def rates(overall_f1, false_abstention):
    return {"threshold": None, "overall_f1": overall_f1, "false_abstention": false_abstention}


def test_the_best_setting_is_the_best_overall_f1_within_the_false_abstention_budget():
    tables = {"dpo": {"no gate, keep": rates(0.30, 0.10), "gate 0.15, keep": rates(0.52, 0.22),
                      "gate 0.15, extractive": rates(0.48, 0.14)},
              "full": {"no gate, keep": rates(0.25, 0.0), "gate 0.15, extractive": rates(0.48, 0.15),
                       "gate 0.2, keep": rates(0.60, 0.16)}}
    # 0.52 and 0.60 break the 0.15 budget; 0.48 ties between dpo (14%) and full (15%, on the
    # bound, so within it): the first listed wins
    assert best_setting(tables, 0.15) == {"chat_model": "dpo", "setting": "gate 0.15, extractive",
                                          **rates(0.48, 0.14)}
    assert best_setting(tables, 0.16)["setting"] == "gate 0.2, keep"
    assert best_setting(tables, 0.0) == {"chat_model": "full", "setting": "no gate, keep",
                                         **rates(0.25, 0.0)}
    assert best_setting({"dpo": {"gate 0.1, keep": rates(0.4, 0.2)}}, 0.15) is None
    assert best_setting({"dpo": {"no gate, keep": rates(None, 0.0)}}, 0.15) is None


def test_policy_keys_name_the_gate_cap_and_the_fallback():
    assert policy_key(None, "keep") == "no gate, keep"
    assert policy_key(0.15, "extractive") == "gate 0.15, extractive"
    assert policy_key(0.1, "keep") == "gate 0.1, keep"


@pytest.mark.parametrize("fallback", ["keep", "extractive"])
def test_ask_and_its_stream_show_the_extractive_answer(smol_tokenizer, small_index,
                                                       small_reranker, fallback):
    _, folder, _, _ = small_reranker
    settings = PARAMS.answers.updated(sources=2, rerank=True, device="cpu",
                                      on_model_abstention=fallback)
    generator = ScriptedGenerator(smol_tokenizer, NO_ANSWER)
    question = "the tomato is an edible berry"
    with open_searcher(small_index, reranker=folder) as searcher:
        reply = answer(generator, searcher, [question], settings)[0]
        streamed = answer_stream(generator, searcher, question, settings)
        assert "".join(streamed.stream) == NO_ANSWER  # streamed as the model wrote it
        whole = streamed.answer()
    assert whole == reply
    if fallback == "keep":
        assert (reply.text, reply.cited, reply.extracted) == (NO_ANSWER, [], False)
        return
    number = int(reply.text[1:reply.text.index("]")])
    sentence = reply.text[reply.text.index("]") + 2:]
    assert reply.extracted and reply.cited == [number]
    assert sentence in reply.sources[number - 1].text  # a sentence of the source it cites
