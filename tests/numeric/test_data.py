
"""Numeric splits follow the documents: nothing judged in test trains, validation documents are
held out (the same for every question set), the stated-only filter keeps answerable questions,
and every test question is asked in every context, with examples only from the training split
(all of it, or only the tuned rows)."""

import re

import pytest

from hybridrag.answers.prompt import Source
from hybridrag.numeric.data import corpus_question_sets
from hybridrag.records import Dataset, Document, Query

from ..runs import run_in


def people(n):
    documents = [Document(f"p{i}", f"Person {i}", f"Born in {1800 + i}." if i % 2 else "A person.",
                          topic="People") for i in range(n)]
    queries = [Query(f"q{i}", f"Painter ({1800 + i}–{1850 + i})") for i in range(n)]
    return documents, queries


def year_sets(dataset, stated_only, validation_fraction, seed, max_test=None, in_text=False):
    from ..conftest import PARAMS

    settings = PARAMS.numeric.data.updated(
        stated_only=stated_only, validation_fraction=validation_fraction, seed=seed,
        max_train=None, max_validation=None, max_test=max_test, in_text=in_text)
    return corpus_question_sets(settings, dataset)


def test_splits_by_document_with_a_held_out_validation_share():
    documents, queries = people(20)
    qrels = {"train": {f"q{i}": {f"p{i}": 1} for i in range(14)},
             "test": {f"q{i}": {f"p{i}": 1} for i in range(14, 20)}}
    splits = year_sets(Dataset(documents, queries, qrels), False, 0.25, 3)["years"]
    counts = splits.counts()
    assert counts["test"] == {"questions": 12, "documents": 6, "kinds": {"born": 6, "died": 6}}
    assert counts["validation"]["documents"] == 4 and counts["train"]["documents"] == 10
    train, validation = {q.doc_id for q in splits.train}, {q.doc_id for q in splits.validation}
    assert not train & validation and not (train | validation) & {q.doc_id for q in splits.test}
    again = year_sets(Dataset(documents, queries, qrels), False, 0.25, 3, max_test=5)["years"]
    assert [q.question_id for q in again.train] == [q.question_id for q in splits.train]
    assert len(again.test) == 5


def test_a_document_judged_in_test_never_trains_and_stated_only_filters():
    documents, queries = people(6)
    qrels = {"train": {f"q{i}": {f"p{i}": 1} for i in range(6)}, "test": {"q0": {"p0": 1}}}
    splits = year_sets(Dataset(documents, queries, qrels), True, 0.0, 1)["years"]
    assert "p0" not in {q.doc_id for q in splits.train}
    assert {q.question_id for q in splits.train} == {"q1#born", "q3#born", "q5#born"}
    assert splits.test == []  # p0's text does not state its years


def test_both_sets_hold_out_the_same_documents():
    documents, queries = people(20)
    documents = [Document(d.doc_id, d.title, f"The painter moved to Paris in {1820 + i} with family.",
                          topic="People") for i, d in enumerate(documents)]
    qrels = {"train": {f"q{i}": {f"p{i}": 1} for i in range(16)},
             "test": {f"q{i}": {f"p{i}": 1} for i in range(16, 20)}}
    sets = year_sets(Dataset(documents, queries, qrels), False, 0.25, 3, in_text=True)
    assert set(sets) == {"years", "in_text"}
    years, cloze = sets["years"], sets["in_text"]
    assert {q.doc_id for q in cloze.validation} == {q.doc_id for q in years.validation}
    assert {q.doc_id for q in cloze.test} == {f"p{i}" for i in range(16, 20)}
    assert sorted(q.target for q in cloze.test) == [1836.0, 1837.0, 1838.0, 1839.0]


def bag_of_words(texts):
    """Unit vectors over a few words, so that "born" questions are nearest to "born" ones."""
    import numpy as np

    vectors = np.array([[t.count(w) for w in ("born", "die")] for t in texts], dtype=float) + 1e-3
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_corpus_rows_ask_every_test_question_in_every_context(tmp_path):
    import json

    from hybridrag.numeric.data import corpus_rows, write_numeric_data
    from hybridrag.numeric.rows import held_out_rows

    from ..conftest import PARAMS

    documents, queries = people(10)
    qrels = {"train": {f"q{i}": {f"p{i}": 1} for i in range(7)},
             "test": {f"q{i}": {f"p{i}": 1} for i in range(7, 10)}}
    settings = PARAMS.numeric.data.updated(max_train=None, max_validation=None, max_test=None,
                                           validation_fraction=0.0, in_text=False)
    context = PARAMS.numeric.context.updated(train=("none", "sources", "semantic"),
                                             evaluate=("none", "keyword", "semantic", "sources"),
                                             examples=2)
    source = Source(1, "p9", 0, "Person 9", "Born in 1809.")
    asked = []

    def retrieve(question):
        asked.append(question)
        return [source]

    rows, summary = corpus_rows(settings, context, Dataset(documents, queries, qrels), retrieve,
                                bag_of_words)
    assert summary["rows"] == {"train": 14, "validation": 0, "test/years/none": 6,
                               "test/years/keyword": 6, "test/years/semantic": 6,
                               "test/years/sources": 6}
    assert sum(summary["train_contexts"].values()) == 14
    assert set(summary["train_contexts"]) == {"none", "sources", "semantic"}
    assert len(asked) == 6 + summary["train_contexts"]["sources"]  # retrieval only where needed
    assert summary["answer_in_context"]["test/years/sources"] == round(1 / 6, 4)  # p9's birth
    training = {(q, t) for q, t in ((f"In what year was Person {i} born?", 1800.0 + i)
                                    for i in range(7))} | {
        (f"In what year did Person {i} die?", 1850.0 + i) for i in range(7)}
    for row in rows["test/years/semantic"] + rows["test/years/keyword"]:
        pairs = re.findall(r"Q: (.*)\nA: (\d+)", row.messages[0]["content"])
        assert len(pairs) == 2 and {(q, float(a)) for q, a in pairs} <= training
        if "born" in row.messages[1]["content"]:
            assert all("born" in q for q, _ in pairs)  # nearest by meaning and by words
    for row in rows["train"]:  # a training row never sees its own document's answers
        own = row.messages[1]["content"].split("Person ")[1].split()[0]
        assert f"Person {own} " not in row.messages[0]["content"]
    write_numeric_data(rows, summary, tmp_path / "numeric", tmp_path / "data.json")
    assert held_out_rows(tmp_path / "numeric" / "test", context.evaluate)["years", "sources"] == \
        rows["test/years/sources"]
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
    assert summary["rows"] == {"train": 14, "validation": 2, "test/messages/own": 4}
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


@pytest.mark.parametrize("pool", ["split", "rows"])
def test_solved_examples_come_from_the_whole_training_split_or_only_the_tuned_rows(pool):
    from hybridrag.numeric.data import corpus_rows

    from ..conftest import PARAMS

    documents, queries = people(24)
    qrels = {"train": {f"q{i}": {f"p{i}": 1} for i in range(20)},
             "test": {f"q{i}": {f"p{i}": 1} for i in range(20, 24)}}
    dataset = Dataset(documents, queries, qrels)
    settings = PARAMS.numeric.data.updated(max_train=3, max_validation=None, max_test=None,
                                           validation_fraction=0.25, in_text=False)
    context = PARAMS.numeric.context.updated(train=("semantic",), evaluate=("semantic", "keyword"),
                                             examples=40, example_pool=pool)
    years = corpus_question_sets(settings, dataset)["years"]
    assert len(years.train) == 3 and len(years.pool) == 30  # 15 training documents, born + died
    pool_ids = [q.question_id for q in years.pool]
    assert pool_ids == [q.question_id for q in corpus_question_sets(settings, dataset)["years"].pool]
    assert pool_ids != sorted(pool_ids, key=lambda i: (int(i[1:].split("#")[0]), i))  # seeded,
    # not source order: BM25 ties between template questions must not pick the first documents
    rows, summary = corpus_rows(settings, context, dataset, lambda question: [], bag_of_words)
    solved = years.pool if pool == "split" else years.train
    assert summary["solved_examples"] == {"pool": pool, "questions": len(solved)}
    allowed = {(q.question, q.target) for q in solved}
    held_out = {q.doc_id for q in years.validation + years.test}
    for part in rows.values():
        for row in part:
            shown = {(q, float(a)) for q, a in re.findall(r"Q: (.*)\nA: (\d+)",
                                                          row.messages[0]["content"])}
            # every example offered (k is larger than the pool), less the row's own document's
            own = row.messages[1]["content"].split("Person ")[1].split()[0]
            assert shown == {(q, t) for q, t in allowed if f"Person {own} " not in q + " "}
            assert not {q.split("Person ")[1].split()[0] for q, _ in shown} & {
                d.removeprefix("p") for d in held_out}
