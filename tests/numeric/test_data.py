"""Numeric splits follow the documents: nothing judged in test trains, validation documents are
held out, and the stated-only filter keeps answerable questions."""

from hybridrag.answers.prompt import Source
from hybridrag.numeric.data import numeric_rows, split_year_questions
from hybridrag.records import Dataset, Document, Query


def people(n):
    documents = [Document(f"p{i}", f"Person {i}", f"Born in {1800 + i}." if i % 2 else "A person.",
                          topic="People") for i in range(n)]
    queries = [Query(f"q{i}", f"Painter ({1800 + i}–{1850 + i})") for i in range(n)]
    return documents, queries


def test_splits_by_document_with_a_held_out_validation_share():
    documents, queries = people(20)
    qrels = {"train": {f"q{i}": {f"p{i}": 1} for i in range(14)},
             "test": {f"q{i}": {f"p{i}": 1} for i in range(14, 20)}}
    splits = split_year_questions(Dataset(documents, queries, qrels), False, 0.25, 3,
                                  (None, None, None))
    counts = splits.counts()
    assert counts["test"] == {"questions": 12, "documents": 6, "kinds": {"born": 6, "died": 6}}
    assert counts["validation"]["documents"] == 4 and counts["train"]["documents"] == 10
    train, validation = {q.doc_id for q in splits.train}, {q.doc_id for q in splits.validation}
    assert not train & validation and not (train | validation) & {q.doc_id for q in splits.test}
    again = split_year_questions(Dataset(documents, queries, qrels), False, 0.25, 3, (None, None, 5))
    assert [q.question_id for q in again.train] == [q.question_id for q in splits.train]
    assert len(again.test) == 5


def test_a_document_judged_in_test_never_trains_and_stated_only_filters():
    documents, queries = people(6)
    qrels = {"train": {f"q{i}": {f"p{i}": 1} for i in range(6)}, "test": {"q0": {"p0": 1}}}
    splits = split_year_questions(Dataset(documents, queries, qrels), True, 0.0, 1,
                                  (None, None, None))
    assert "p0" not in {q.doc_id for q in splits.train}
    assert {q.question_id for q in splits.train} == {"q1#born", "q3#born", "q5#born"}
    assert splits.test == []  # p0's text does not state its years


def test_rows_carry_sources_when_retrieval_is_given():
    documents, queries = people(2)
    qrels = {"train": {"q0": {"p0": 1}, "q1": {"p1": 1}}}
    questions = split_year_questions(Dataset(documents, queries, qrels), False, 0.0, 1,
                                     (None, None, None)).train
    source = Source(1, "p1", 3, "Person 1", "Born in 1801.")
    grounded = numeric_rows(questions, lambda question: [source])
    plain = numeric_rows(questions, None)
    assert all("[1] Person 1: Born in 1801." in r.messages[0]["content"] for r in grounded)
    assert all(r.messages[0]["content"] == "Answer with the number only." for r in plain)
    assert sorted(r.target for r in plain) == [1800.0, 1801.0, 1850.0, 1851.0]
