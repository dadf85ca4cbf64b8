"""The shapes every stage passes on: documents, queries, relevance judgements, chunks."""

from __future__ import annotations

from dataclasses import dataclass, field

Qrels = dict[str, dict[str, int]]
"""query id -> document id -> relevance grade (0 = judged not relevant)."""


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    text: str
    author: str | None = None
    year: int | None = None
    keywords: tuple[str, ...] = ()
    topic: str | None = None


@dataclass(frozen=True)
class Query:
    query_id: str
    text: str


@dataclass(frozen=True)
class Chunk:
    chunk_id: int
    doc_id: str
    position: int  # 0-based index of the chunk within its document
    start: int  # character offsets into Document.text: text[start:end] == chunk text
    end: int
    text: str


@dataclass
class Dataset:
    documents: list[Document]
    queries: list[Query] = field(default_factory=list)
    qrels: dict[str, Qrels] = field(default_factory=dict)  # split name -> judgements
