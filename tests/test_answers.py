"""Grounded answers: numbered sources in the prompt, citations read back, grounding scores by
hand, and a real retrieve-then-generate run with a tiny chat model."""

import pytest

from hybridrag.answers import (
    SYSTEM_PROMPT,
    Answer,
    Source,
    answer,
    build_prompt,
    citations,
    grounding_scores,
)
from hybridrag.generation import ChatGenerator
from hybridrag.search.searcher import Searcher


def sources(*doc_ids: str) -> list[Source]:
    return [Source(i, d, i * 10, f"Title {d}", f"text of {d}") for i, d in enumerate(doc_ids, start=1)]


def test_citations_are_valid_numbers_in_order_of_first_use():
    assert citations("As [2] says, and [1] too [2]; see [9] and [0].", 3) == [2, 1]
    assert citations("No sources here.", 3) == []


def test_prompt_numbers_the_sources_and_trims_them():
    prompt = build_prompt("Why?", [Source(1, "a", 0, "Alpha", "x" * 50), Source(2, "b", 1, "Beta", "y")],
                          max_chars=10)
    assert prompt[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert prompt[1]["content"] == ("Sources:\n[1] Alpha: xxxxxxxxxx\n\n[2] Beta: y\n\n"
                                    "Question: Why?")


def test_grounding_scores_by_hand():
    answers = [Answer("q1", "Tomato is a berry [2].", sources("d1", "d2"), [2]),
               Answer("q2", "I do not know.", sources("d3", "d4"), [])]
    titles = {"d1": "Potato", "d2": "Tomato", "d3": "Jazz", "d4": "Rock"}
    texts = {"d1": "a tuber", "d2": "tomato is a berry", "d3": "music", "d4": "music"}
    scores = grounding_scores(answers, [{"d2": 1}, {"d9": 1, "d3": 0}],
                              {**titles, "d9": "Blues"}, {**texts, "d9": "blues music"})
    # q1: all four flags true; ROUGE-L of 5 answer tokens vs 4 reference tokens, LCS 4:
    # P 4/5, R 4/4, F1 = 8/9. q2: retrieved nothing relevant; ROUGE-L 0.
    assert scores == {"retrieved_relevant": 0.5, "cited_any": 0.5, "cited_relevant": 0.5,
                      "names_relevant_title": 0.5, "rouge_l_vs_relevant": pytest.approx(4 / 9, abs=1e-4)}


@pytest.mark.slow
def test_answer_retrieves_sources_and_generates(smol_base, small_index):
    generator = ChatGenerator(smol_base, smol_base, device="cpu")
    with Searcher(small_index, device="cpu") as searcher:
        replies = answer(generator, searcher, ["edible berry", "jazz in New Orleans"], k=2,
                         max_new_tokens=12)
        expected = [[r.doc_id for r in searcher.search(q, k=2)]
                    for q in ("edible berry", "jazz in New Orleans")]
    assert [[s.doc_id for s in r.sources] for r in replies] == expected
    assert all([s.number for s in r.sources] == [1, 2] for r in replies)
    assert all(len(r.text.split()) >= 3 and set(r.cited) <= {1, 2} for r in replies)
    # batched generation matches one-at-a-time generation (left padding is handled)
    with Searcher(small_index, device="cpu") as searcher:
        single = answer(generator, searcher, ["jazz in New Orleans"], k=2, max_new_tokens=12)
    assert single[0].text == replies[1].text
