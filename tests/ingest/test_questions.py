import json

import pytest

from hybridrag.errors import InputError
from hybridrag.ingest import load_dataset, read_beir, write_beir
from hybridrag.ingest.fields import FieldError
from hybridrag.ingest.questions import add_questions, parse_question, read_questions
from hybridrag.jsonl import RowPolicy
from hybridrag.records import Dataset, Document, Query, UserQuestion

from ..conftest import PARAMS

DOCUMENTS = [Document("guide/install.md", "Install", "pip install it", source_path="guide/install.md"),
             Document("d2", "Usage", "run it")]


def write_rows(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_a_row_with_defaults_is_a_test_question_named_after_its_line():
    question = parse_question({"question": " How? ", "relevant": "d2", "answer": "run it"}, 4)
    assert question == UserQuestion("question-4", "How?", ("d2",), ("run it",), "test")
    unanswerable = parse_question({"question": "Why?", "answerable": False, "id": "u",
                                   "split": "validation"}, 1)
    assert unanswerable == UserQuestion("u", "Why?", (), (), "validation")
    assert not unanswerable.answerable


@pytest.mark.parametrize("record,field,message", [
    ({"question": "x"}, "relevant", "is missing"),
    ({"question": "x", "relevant": []}, "relevant", "is missing"),
    ({"question": "x", "relevant": ["d2"], "answerable": False}, "relevant", "must be left out"),
    ({"question": "x", "answer": "y", "answerable": False}, "answer", "must be left out"),
    ({"question": "", "relevant": "d2"}, "question", "non-empty string"),
    ({"question": "x", "relevant": [3]}, "relevant", "string or a list"),
    ({"question": "x", "relevant": "d2", "split": "train"}, "split", "never trained on"),
    ({"question": "x", "relevant": "d2", "answerable": "no"}, "answerable", "true or false"),
    ({"question": "x", "relevant": "d2", "relevnt": "d2"}, "relevnt", "not a question field"),
])
def test_a_bad_row_names_its_field(record, field, message):
    with pytest.raises(FieldError, match=message) as raised:
        parse_question(record, 1)
    assert raised.value.field == field


def test_relevant_documents_are_named_by_path_or_id_and_an_unknown_one_names_the_line(tmp_path):
    path = write_rows(tmp_path / "q.jsonl", [
        {"question": "How to install?", "relevant": ["guide/install.md", "d2"]},
        {"question": "Missing?", "relevant": "guide/gone.md"},
        {"id": "question-1", "question": "Same id?", "relevant": "d2"},
        "{oops",
    ])
    policy = RowPolicy("skip")
    questions = read_questions(path, DOCUMENTS, policy)
    assert [(q.query_id, q.relevant) for q in questions] == [
        ("question-1", ("guide/install.md", "d2"))]
    assert policy.skipped == {"unknown relevant document": 1, "duplicate id": 1, "invalid JSON": 1}
    with pytest.raises(InputError, match=r"q.jsonl:2: field 'relevant': 'guide/gone.md' is not a "
                                         r"document of the corpus"):
        read_questions(path, DOCUMENTS, RowPolicy("raise"))


def test_questions_become_queries_judged_in_their_split_and_survive_the_ingested_folder(tmp_path):
    corpus = Dataset(DOCUMENTS, [Query("k1", "known item")], {"test": {"k1": {"d2": 1}}})
    questions = [UserQuestion("a", "How to install?", ("guide/install.md",), ("pip install it",),
                              "test"),
                 UserQuestion("b", "Capital of Mars?", (), (), "test"),
                 UserQuestion("c", "Run?", ("d2",), None, "validation")]
    dataset = add_questions(corpus, questions)
    assert [q.query_id for q in dataset.queries] == ["k1", "a", "b", "c"]
    assert dataset.qrels == {"test": {"k1": {"d2": 1}, "a": {"guide/install.md": 1}},
                             "validation": {"c": {"d2": 1}}}
    assert corpus.qrels == {"test": {"k1": {"d2": 1}}} and corpus.questions == []
    write_beir(dataset, tmp_path / "ingested")
    again = read_beir(tmp_path / "ingested")
    assert again.questions == questions and again.qrels == dataset.qrels
    with pytest.raises(InputError, match="question id 'k1' is already a query of the corpus"):
        add_questions(corpus, [UserQuestion("k1", "again", ("d2",), None, "test")])


def test_ingest_reads_the_questions_param_against_the_files_it_kept(tmp_path):
    folder = tmp_path / "docs"
    (folder / "guide").mkdir(parents=True)
    (folder / "guide" / "install.md").write_text("# Install\n\nRun pip install hybridrag.\n")
    (folder / "notes.txt").write_text("Nothing about installing here.\n")
    path = write_rows(tmp_path / "q.jsonl", [
        {"question": "How do I install it?", "relevant": "guide/install.md", "answer": "pip"},
        {"question": "What is the capital of Mars?", "answerable": False}])
    params = PARAMS.ingest.updated(source="files", path=str(folder), questions=str(path))
    dataset = load_dataset(params, RowPolicy("raise"))
    assert [q.text for q in dataset.queries] == ["How do I install it?",
                                                  "What is the capital of Mars?"]
    assert dataset.qrels == {"test": {"question-1": {"guide/install.md": 1}}}
    with pytest.raises(InputError, match="file not found"):
        load_dataset(params.updated(questions=str(tmp_path / "none.jsonl")), RowPolicy("raise"))
