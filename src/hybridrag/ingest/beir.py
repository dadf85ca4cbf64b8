"""BEIR folders: corpus.jsonl, queries.jsonl and qrels/<split>.tsv, read and written."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hybridrag.atomic import atomic_directory, atomic_open
from hybridrag.errors import InputError
from hybridrag.ingest.fields import FieldError, document_to_beir, parse_document, parse_query
from hybridrag.ingest.questions import parse_question, question_row
from hybridrag.jsonl import RowPolicy, read_jsonl, write_jsonl
from hybridrag.records import Dataset, Document, Qrels, Query

QRELS_HEADER = ("query-id", "corpus-id", "score")
QUESTIONS_FILE = "questions.jsonl"  # the user's questions (ingest.questions), resolved


Row = TypeVar("Row", Document, Query)


def read_rows(path: Path, policy: RowPolicy, parse: Callable[[dict[str, Any]], Row],
              key: Callable[[Row], str], what: str) -> list[Row]:
    """Rows of a JSONL file parsed by `parse`; bad rows and repeated ids go to `policy`."""
    rows: list[Row] = []
    first_line: dict[str, int] = {}
    for line, record in read_jsonl(path, policy):
        try:
            row = parse(record)
        except FieldError as error:
            policy.reject(InputError(path, line, str(error), f"field {error.field!r}"))
            continue
        if key(row) in first_line:
            policy.reject(InputError(path, line, f"duplicate {what} id {key(row)!r} "
                                     f"(first seen on line {first_line[key(row)]})", "duplicate id"))
            continue
        first_line[key(row)] = line
        rows.append(row)
    return rows


def read_documents(path: Path, policy: RowPolicy) -> list[Document]:
    return read_rows(path, policy, parse_document, lambda d: d.doc_id, "document")


def read_queries(path: Path, policy: RowPolicy) -> list[Query]:
    return read_rows(path, policy, parse_query, lambda q: q.query_id, "query")


def read_qrels(path: Path, policy: RowPolicy, query_ids: set[str], doc_ids: set[str]) -> Qrels:
    """A BEIR qrels TSV (header, then query-id, corpus-id, integer score per line)."""
    qrels: Qrels = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (number == 1 and tuple(row) == QRELS_HEADER):
                continue
            if len(row) != 3:
                policy.reject(InputError(path, number, "expected 3 tab-separated columns "
                                         f"(query-id, corpus-id, score), got {len(row)}",
                                         "bad qrels row"))
                continue
            query_id, doc_id, score = row
            try:
                grade = int(score)
            except ValueError:
                policy.reject(InputError(path, number, f"score must be an integer, got {score!r}",
                                         "bad qrels row"))
                continue
            if query_id not in query_ids:
                policy.reject(InputError(path, number, f"query {query_id!r} is not in "
                                         "queries.jsonl", "qrels for unknown query"))
            elif doc_id not in doc_ids:
                policy.reject(InputError(path, number, f"document {doc_id!r} is not in "
                                         "corpus.jsonl", "qrels for unknown document"))
            else:
                qrels.setdefault(query_id, {})[doc_id] = grade
    return qrels


def read_beir(folder: str | os.PathLike[str], policy: RowPolicy | None = None) -> Dataset:
    """Read a BEIR folder; qrels naming unknown queries or documents go to `policy`."""
    policy = policy or RowPolicy()
    root = Path(folder)
    if not (root / "corpus.jsonl").is_file():
        raise InputError(root, None, "not a BEIR folder: corpus.jsonl is missing", "missing file")
    documents = read_documents(root / "corpus.jsonl", policy)
    queries_path = root / "queries.jsonl"
    queries = read_queries(queries_path, policy) if queries_path.is_file() else []
    doc_ids = {d.doc_id for d in documents}
    query_ids = {q.query_id for q in queries}
    qrels = {path.stem: read_qrels(path, policy, query_ids, doc_ids)
             for path in sorted((root / "qrels").glob("*.tsv"))}
    questions_path = root / QUESTIONS_FILE
    questions = ([parse_question(record, line) for line, record in read_jsonl(questions_path)]
                 if questions_path.is_file() else [])
    return Dataset(documents=documents, queries=queries, qrels=qrels, questions=questions)


def write_beir(dataset: Dataset, folder: str | os.PathLike[str]) -> None:
    """Write the dataset as a BEIR folder, replacing any previous one atomically."""
    with atomic_directory(folder) as staging:
        write_jsonl(staging / "corpus.jsonl", (document_to_beir(d) for d in dataset.documents))
        write_jsonl(staging / "queries.jsonl",
                    ({"_id": q.query_id, "text": q.text} for q in dataset.queries))
        (staging / "qrels").mkdir()
        for split, qrels in dataset.qrels.items():
            with atomic_open(staging / "qrels" / f"{split}.tsv") as handle:
                handle.write("\t".join(QRELS_HEADER) + "\n")
                for query_id, judged in qrels.items():
                    for doc_id, grade in judged.items():
                        handle.write(f"{query_id}\t{doc_id}\t{grade}\n")
        if dataset.questions:
            write_jsonl(staging / QUESTIONS_FILE, (question_row(q) for q in dataset.questions))
