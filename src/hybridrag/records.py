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
    language: str | None = None  # ISO 639-1 code, given or detected at ingest
    # Documents read from files (ingest.source: files):
    source_path: str | None = None  # path relative to the ingested folder
    file_type: str | None = None  # pdf | html | markdown | docx | text
    content_hash: str | None = None  # sha256 of the extracted text (duplicates share it)
    modified: str | None = None  # the file's modification time, ISO 8601 UTC
    page_starts: tuple[int, ...] = ()  # PDF: offset in `text` where page 1, 2, ... begins
    sections: tuple[tuple[int, str], ...] = ()  # Markdown: (offset in `text`, heading path)


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
    page: int | None = None  # 1-based page holding the chunk (documents with pages only)
    section: str | None = None  # the heading path of the section holding it ("Install › Linux")


SECTION_SEPARATOR = " › "  # between the headings of a section path, and after the title


def chunk_heading(title: str, section: str | None) -> str:
    """A chunk's title as it is indexed and embedded: the document's title, then its section
    path ("Glaciers › Flow"), where it has one."""
    return title if not section else f"{title}{SECTION_SEPARATOR}{section}".strip(" ›")


def file_location(source_path: str | None, page: int | None, section: str | None = None
                  ) -> str | None:
    """Where a reader finds a passage: "report.pdf, p. 4", "guide.md › Install › Linux", or
    "notes.md"; None for a document that is not from a file."""
    if source_path is None:
        return None
    where = source_path if page is None else f"{source_path}, p. {page}"
    return where if section is None else f"{where}{SECTION_SEPARATOR}{section}"


@dataclass(frozen=True)
class UserQuestion:
    """A question of the user's own (ingest.questions), judged by the user."""

    query_id: str
    text: str
    relevant: tuple[str, ...]  # the documents that answer it (ids; paths before ingest resolves them)
    answers: tuple[str, ...] | None  # the answer's accepted texts; () unanswerable; None not given
    split: str

    @property
    def answerable(self) -> bool:
        return bool(self.relevant)


@dataclass
class Dataset:
    documents: list[Document]
    queries: list[Query] = field(default_factory=list)
    qrels: dict[str, Qrels] = field(default_factory=dict)  # split name -> judgements
    questions: list[UserQuestion] = field(default_factory=list)  # the user's, also in queries/qrels
