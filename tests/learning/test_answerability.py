"""The answerability classifier's corpus rows and the corpus queries its gate turns away, by hand
on toy pairs."""

import pytest

from hybridrag.learning.answerability import pair_false_abstention, pair_rows
from hybridrag.learning.pairs import Pair

PAIRS = [Pair(f"query {n}", doc, n, f"passage {n} of {doc} with some more words", "real")
         for n, doc in enumerate(["A", "A", "B", "C", "D"])]


def first_words(text: str) -> str:  # a trim by hand: the first three words
    return " ".join(text.split()[:3])


def test_pair_rows_give_each_query_its_passage_and_another_document_s():
    rows = pair_rows(PAIRS, limit=5, seed=1, trim=first_words)
    assert len(rows) == 10 and sum(label for _, _, label in rows) == 5
    own = {p.query: first_words(p.passage) for p in PAIRS}
    doc_of = {first_words(p.passage): p.doc_id for p in PAIRS}
    query_doc = {p.query: p.doc_id for p in PAIRS}
    for query, passage, label in rows:
        if label == 1.0:
            assert passage == own[query]
        else:  # never a passage of the query's own document (query 0 and 1 share "A")
            assert doc_of[passage] != query_doc[query]
    assert sorted(q for q, _, label in rows if label) == sorted(own)  # every pair once
    assert rows == pair_rows(PAIRS, 5, 1, first_words)  # seeded
    subset = pair_rows(PAIRS, limit=2, seed=1, trim=first_words)
    assert len(subset) == 4 and {q for q, _, _ in subset} <= set(own)


def test_pair_rows_need_a_second_document():
    with pytest.raises(ValueError, match="all about one document"):
        pair_rows(PAIRS[:2], limit=2, seed=1, trim=first_words)


def test_pair_false_abstention_scores_each_query_with_its_trimmed_passage_alone():
    seen = []

    def score(question, passages):  # a cross-encoder by hand: 0.9 when the passage names the
        seen.append((question, list(passages)))  # query's number, else 0.1
        return [0.9 if question.split()[1] in p.split() else 0.1 for p in passages]

    wrong = Pair("query 9", "E", 9, "passage 3 of E", "real")
    pairs = [*PAIRS[:2], wrong]
    assert pair_false_abstention(pairs, score, first_words, 0.5) == {
        "queries": 3, "false_abstention": 0.3333}  # query 9 alone scores below 0.5
    assert seen[0] == ("query 0", ["passage 0 of"])
    assert pair_false_abstention(pairs, score, first_words, 0.95)["false_abstention"] == 1.0
    assert pair_false_abstention(pairs, score, first_words, None) == {
        "queries": 3, "false_abstention": 0.0}  # no gate turns nothing away
    assert pair_false_abstention([], score, first_words, 0.5) == {
        "queries": 0, "false_abstention": None}
