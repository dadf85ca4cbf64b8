"""The SQLite half of the index: documents with metadata, chunks, and an FTS5 table over them."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from hybridrag.records import Chunk, Document

SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    title  TEXT NOT NULL,
    text   TEXT NOT NULL,
    author TEXT,
    year   INTEGER,
    topic  TEXT,
    language     TEXT,
    source_path  TEXT,
    file_type    TEXT,
    content_hash TEXT,
    modified     TEXT,
    page_starts  TEXT  -- JSON list of offsets, NULL without pages
);
CREATE INDEX documents_year ON documents (year);
CREATE INDEX documents_topic ON documents (topic COLLATE NOCASE);
CREATE INDEX documents_language ON documents (language COLLATE NOCASE);
CREATE INDEX documents_file_type ON documents (file_type COLLATE NOCASE);
CREATE TABLE document_keywords (
    doc_id  TEXT NOT NULL REFERENCES documents (doc_id),
    keyword TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (doc_id, keyword)
);
CREATE INDEX document_keywords_keyword ON document_keywords (keyword);
CREATE TABLE chunks (
    chunk_id INTEGER PRIMARY KEY,
    doc_id   TEXT NOT NULL REFERENCES documents (doc_id),
    position INTEGER NOT NULL,
    start    INTEGER NOT NULL,
    end      INTEGER NOT NULL,
    text     TEXT NOT NULL,
    page     INTEGER, -- 1-based, for documents with pages
    section  TEXT     -- the heading path of its section ("Install › Linux"), for documents with sections
);
CREATE INDEX chunks_doc_id ON chunks (doc_id);
-- FTS5 reads its content (title weighted apart from text) through this view; a chunk's title
-- is its heading (records.chunk_heading): the document's title, then its section path.
CREATE VIEW chunk_content AS
    SELECT c.chunk_id AS chunk_id,
           d.title || COALESCE(' › ' || c.section, '') AS title, c.text AS text
    FROM chunks c JOIN documents d ON d.doc_id = c.doc_id;
"""

FTS_TABLE = "chunks_fts"
# FTS5 stems English only (porter); other languages get case folding and accent removal.
STEMMED_TOKENIZER = "porter unicode61 remove_diacritics 2"
UNSTEMMED_TOKENIZER = "unicode61 remove_diacritics 2"


def fts_tokenizer_for(setting: str, main_language: str | None) -> str:
    """build_db.fts_tokenizer resolved: `auto` stems an English (or unknown) corpus only."""
    if setting != "auto":
        return setting
    return STEMMED_TOKENIZER if main_language in (None, "en") else UNSTEMMED_TOKENIZER


def create_database(
    path: str | os.PathLike[str],
    documents: Iterable[Document],
    chunks: Iterable[Chunk],
    fts_tokenizer: str,
) -> None:
    """Write a new database at `path` (which must not exist) and build its FTS5 index."""
    target = Path(path)
    if target.exists():
        raise FileExistsError(f"{target} already exists; build into a fresh folder")
    connection = sqlite3.connect(target)
    try:
        connection.executescript(SCHEMA)
        tokenizer = fts_tokenizer.replace("'", "''")
        connection.execute(
            f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(title, text, content='chunk_content', "
            f"content_rowid='chunk_id', tokenize='{tokenizer}')")
        with connection:
            for document in documents:
                connection.execute(
                    "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (document.doc_id, document.title, document.text, document.author,
                     document.year, document.topic, document.language, document.source_path,
                     document.file_type, document.content_hash, document.modified,
                     json.dumps(document.page_starts) if document.page_starts else None))
                connection.executemany(
                    "INSERT INTO document_keywords VALUES (?, ?)",
                    ((document.doc_id, keyword) for keyword in document.keywords))
            connection.executemany(
                "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ((c.chunk_id, c.doc_id, c.position, c.start, c.end, c.text, c.page, c.section)
                 for c in chunks))
            orphan = connection.execute(
                "SELECT c.chunk_id, c.doc_id FROM chunks c LEFT JOIN documents d USING (doc_id) "
                "WHERE d.doc_id IS NULL LIMIT 1").fetchone()
            if orphan:
                raise ValueError(f"chunk {orphan[0]} names document {orphan[1]!r}, "
                                 "which is not in the corpus")
            connection.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
        connection.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')")
        connection.execute("ANALYZE")
    except BaseException:
        connection.close()
        target.unlink(missing_ok=True)
        raise
    connection.close()


def connect_readonly(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A read-only connection usable from any thread (each call opens its own)."""
    target = Path(path)
    if not target.is_file():
        raise FileNotFoundError(f"index database {target} not found; run `dvc repro build_db`")
    connection = sqlite3.connect(f"file:{target.resolve()}?mode=ro", uri=True,
                                 check_same_thread=False)
    connection.row_factory = sqlite3.Row
    return connection


class ConnectionPool:
    """Read-only connections opened together up front and lent to one caller at a time.

    Opening them all at once pins the database file: when a new index folder is swapped in,
    every connection of this pool keeps reading the old file until the pool is dropped.
    """

    def __init__(self, path: str | os.PathLike[str], size: int = 4):
        if size < 1:
            raise ValueError(f"pool size must be >= 1, got {size}")
        self._connections = [connect_readonly(path) for _ in range(size)]
        self._free: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        for connection in self._connections:
            self._free.put(connection)

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        connection = self._free.get()
        try:
            yield connection
        finally:
            self._free.put(connection)

    def close(self) -> None:
        for connection in self._connections:
            connection.close()


def row_to_document(row: sqlite3.Row, keywords: tuple[str, ...]) -> Document:
    """Indexes built before languages and files (another revision's) lack those columns."""
    values = dict(row)
    pages = values.pop("page_starts", None)
    return Document(**values, keywords=keywords, page_starts=tuple(json.loads(pages)) if pages else ())


def fetch_documents(connection: sqlite3.Connection, doc_ids: list[str]) -> dict[str, Document]:
    """Documents (with keywords) by id; ids not in the index are left out."""
    if not doc_ids:
        return {}
    marks = ",".join("?" * len(doc_ids))
    keywords: dict[str, list[str]] = {}
    for row in connection.execute(
            f"SELECT doc_id, keyword FROM document_keywords WHERE doc_id IN ({marks}) "
            "ORDER BY rowid", doc_ids):
        keywords.setdefault(row["doc_id"], []).append(row["keyword"])
    rows = connection.execute(f"SELECT * FROM documents WHERE doc_id IN ({marks})", doc_ids)
    return {row["doc_id"]: row_to_document(row, tuple(keywords.get(row["doc_id"], ())))
            for row in rows}


def fetch_chunks(connection: sqlite3.Connection, chunk_ids: list[int]) -> dict[int, Chunk]:
    if not chunk_ids:
        return {}
    marks = ",".join("?" * len(chunk_ids))
    rows = connection.execute(f"SELECT * FROM chunks WHERE chunk_id IN ({marks})", chunk_ids)
    return {row["chunk_id"]: Chunk(**dict(row)) for row in rows}


def fetch_chunk_documents(connection: sqlite3.Connection) -> dict[int, str]:
    """chunk id -> document id for the whole index (held in memory by the retrievers)."""
    return dict(connection.execute("SELECT chunk_id, doc_id FROM chunks").fetchall())


def fetch_document_chunks(connection: sqlite3.Connection, doc_id: str) -> list[Chunk]:
    """A document's chunks in order."""
    rows = connection.execute("SELECT chunk_id FROM chunks WHERE doc_id = ? ORDER BY position",
                              (doc_id,)).fetchall()
    chunks = fetch_chunks(connection, [row[0] for row in rows])
    return [chunks[row[0]] for row in rows]
