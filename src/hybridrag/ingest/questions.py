"""The user's own questions (ingest.questions): a JSONL file of questions with the documents that
answer them, an optional answer, or `answerable: false`. They become judged queries of their
split (test by default), so eval_retrieval and eval_answers measure the user's corpus on them;
no training stage reads them.

One row: {"question": "...", "relevant": ["guide/install.md"], "answer": "pip install x",
"id": "q1", "split": "test"}; `relevant` names documents by id or by path in the folder; a
question the documents cannot answer: {"question": "...", "answerable": false}."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hybridrag.errors import InputError
from hybridrag.ingest.fields import FieldError
from hybridrag.jsonl import RowPolicy, read_jsonl
from hybridrag.records import Dataset, Document, Query, UserQuestion

FIELDS = ("id", "question", "relevant", "answer", "answerable", "split")


def _strings(value: Any, name: str) -> tuple[str, ...]:
    """A string or a list of strings, each non-empty."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
        raise FieldError(name, f"must be a non-empty string or a list of them, got {value!r}")
    return tuple(v.strip() for v in items)


def parse_question(record: dict[str, Any], line: int) -> UserQuestion:
    """One row; a question without an id is named after its line ("question-<line>")."""
    unknown = sorted(set(record) - set(FIELDS))
    if unknown:
        raise FieldError(unknown[0], f"is not a question field (fields: {', '.join(FIELDS)})")
    text = record.get("question")
    if not isinstance(text, str) or not text.strip():
        raise FieldError("question", f"must be a non-empty string, got {text!r}")
    query_id = record.get("id", f"question-{line}")
    if not isinstance(query_id, str) or not query_id.strip() or any(c in query_id for c in "\t\r\n"):
        raise FieldError("id", f"must be a non-empty string without tabs or line breaks, got {query_id!r}")
    split = record.get("split", "test")
    if not isinstance(split, str) or not split.isidentifier() or split == "train":
        raise FieldError("split", "must be a held-out split's name such as 'test' or 'validation' "
                         f"(the user's questions are measured, never trained on), got {split!r}")
    answerable = record.get("answerable", True)
    if not isinstance(answerable, bool):
        raise FieldError("answerable", f"must be true or false, got {answerable!r}")
    relevant = _strings(record["relevant"], "relevant") if record.get("relevant") else ()
    answer = record.get("answer")
    if not answerable:
        for name, given in (("relevant", relevant), ("answer", answer)):
            if given:
                raise FieldError(name, "must be left out when answerable is false")
        return UserQuestion(query_id, text.strip(), (), (), split)
    if not relevant:
        raise FieldError("relevant", "is missing: name the documents (ids or paths) that answer "
                         "the question, or set \"answerable\": false")
    return UserQuestion(query_id, text.strip(), relevant,
                        None if answer is None else _strings(answer, "answer"), split)


def read_questions(path: str | Path, documents: Sequence[Document], policy: RowPolicy
                   ) -> list[UserQuestion]:
    """The file's questions with `relevant` resolved to document ids (a document is named by its
    id or its path in the folder); a row naming a document the corpus lacks, or repeating an id,
    goes to `policy`."""
    by_name = {d.source_path: d.doc_id for d in documents if d.source_path}
    by_name.update({d.doc_id: d.doc_id for d in documents})
    questions: list[UserQuestion] = []
    first_line: dict[str, int] = {}
    for line, record in read_jsonl(Path(path), policy):
        try:
            question = parse_question(record, line)
        except FieldError as error:
            policy.reject(InputError(path, line, str(error), f"field {error.field!r}"))
            continue
        missing = [name for name in question.relevant if name not in by_name]
        if missing:
            policy.reject(InputError(path, line, f"field 'relevant': {missing[0]!r} is not a "
                                     "document of the corpus (an id or a path in the folder; "
                                     "ingest may have skipped it: see metrics/ingest.json)",
                                     "unknown relevant document"))
            continue
        if question.query_id in first_line:
            policy.reject(InputError(path, line, f"duplicate question id {question.query_id!r} "
                                     f"(first seen on line {first_line[question.query_id]})",
                                     "duplicate id"))
            continue
        first_line[question.query_id] = line
        questions.append(UserQuestion(question.query_id, question.text,
                                      tuple(dict.fromkeys(by_name[n] for n in question.relevant)),
                                      question.answers, question.split))
    return questions


def add_questions(dataset: Dataset, questions: Sequence[UserQuestion]) -> Dataset:
    """`dataset` with the questions as queries, the answerable ones judged (grade 1) in their
    split; an id that is already a query of the dataset is an error."""
    taken = {q.query_id for q in dataset.queries} & {q.query_id for q in questions}
    if taken:
        raise InputError("ingest.questions", None, f"question id {sorted(taken)[0]!r} is already "
                         "a query of the corpus: give the questions other ids", "duplicate id")
    qrels = {split: dict(judged) for split, judged in dataset.qrels.items()}
    for question in questions:
        if question.answerable:
            qrels.setdefault(question.split, {})[question.query_id] = dict.fromkeys(
                question.relevant, 1)
    return Dataset(documents=dataset.documents,
                   queries=[*dataset.queries, *(Query(q.query_id, q.text) for q in questions)],
                   qrels=qrels, questions=[*dataset.questions, *questions])


def question_row(question: UserQuestion) -> dict[str, Any]:
    """The row `parse_question` reads back as `question`."""
    row: dict[str, Any] = {"id": question.query_id, "question": question.text,
                           "split": question.split}
    if not question.answerable:
        return {**row, "answerable": False}
    row["relevant"] = list(question.relevant)
    return row if question.answers is None else {**row, "answer": list(question.answers)}
