
"""Numeric splits follow the documents: nothing judged in test trains, validation documents are
held out, and the stated-only filter keeps answerable questions."""

import pytest

from hybridrag.answers.prompt import Source
from hybridrag.numeric.data import numeric_rows, split_year_questions
from hybridrag.records import Dataset, Document, Query

from ..runs import run_in


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


def test_corpus_rows_write_every_test_question_with_and_without_sources(tmp_path):
    import json

    from hybridrag.numeric.data import corpus_rows, write_numeric_data

    from ..conftest import PARAMS

    documents, queries = people(10)
    qrels = {"train": {f"q{i}": {f"p{i}": 1} for i in range(7)},
             "test": {f"q{i}": {f"p{i}": 1} for i in range(7, 10)}}
    settings = PARAMS.numeric.data.updated(max_train=None, max_validation=None, max_test=None,
                                           validation_fraction=0.0, context_share=0.5)
    source = Source(1, "p9", 0, "Person 9", "Born in 1809.")
    rows, summary = corpus_rows(settings, Dataset(documents, queries, qrels), lambda q: [source])
    assert summary["rows"] == {"train": 14, "validation": 0, "test_retrieved": 6, "test_none": 6}
    assert 0 < summary["train_rows_with_sources"] < 14
    assert [r.answer_in_sources for r in rows["test_retrieved"]].count(True) == 1  # p9's birth
    assert summary["test_answer_in_sources"] == round(1 / 6, 4)
    assert all(r.answer_in_sources is None for r in rows["test_none"])
    write_numeric_data(rows, summary, tmp_path / "numeric", tmp_path / "data.json")
    from hybridrag.numeric.rows import read_rows

    assert read_rows(tmp_path / "numeric" / "test_retrieved.jsonl") == rows["test_retrieved"]
    assert json.loads((tmp_path / "data.json").read_text())["rows"]["train"] == 14


def test_file_rows_split_a_users_file_by_seeded_shares(tmp_path):
    import json

    from hybridrag.numeric.data import file_rows

    from ..conftest import PARAMS

    path = tmp_path / "n.jsonl"
    path.write_text("\n".join(json.dumps({"messages": [
        {"role": "user", "content": f"Price of item {i}?"},
        {"role": "assistant", "content": f"It costs {i}.50 euros."}]}) for i in range(20)) + "\n")
    settings = PARAMS.numeric.data.updated(source="messages", path=str(path), test_fraction=0.2,
                                           validation_fraction=0.1, max_train=None,
                                           max_validation=None, max_test=None)
    rows, summary = file_rows(settings)
    assert summary["rows"] == {"train": 14, "validation": 2, "test_none": 4, "test_retrieved": 0}
    assert sorted(r.target for part in rows.values() for r in part) == [i + 0.5 for i in range(20)]
    path.write_text("")
    with pytest.raises(ValueError, match="gave no usable row"):
        file_rows(settings)


def test_without_training_rows_both_runs_are_skipped_and_load_as_the_base(tmp_path):
    import json

    from hybridrag.numeric.training import train_or_skip

    from ..conftest import PARAMS

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.jsonl").write_text("")
    paths = run_in("models/base", tmp_path)
    line = train_or_skip("hybrid", PARAMS.numeric, tmp_path / "data", paths)
    assert "skipped (no training rows" in line
    assert json.loads((paths.out_dir / "run.json").read_text())["kind"] == "skipped"
    assert json.loads(paths.metrics.read_text())["skipped"] is True
