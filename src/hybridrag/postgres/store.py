"""A built index (SQLite + FAISS folder) loaded into one PostgreSQL schema, and keyword search
over it that returns what the SQLite index returns.

Tables: `documents` (metadata, keywords as an array), `chunks` (text, page, the chunk's BM25
weights as a `sparsevec` and its term ids with a GIN index for finding candidates), `terms`
(term, id, rows holding it) and `info` (row count, tokenizer, the column weights the BM25
weights were made with).
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from hybridrag.index import DATABASE, read_manifest
from hybridrag.index.database import connect_readonly
from hybridrag.postgres.bm25 import KeywordStatistics, QueryTokenizer, chunk_weights, query_weights
from hybridrag.search.fts_query import query_terms
from hybridrag.search.hits import Hit

if TYPE_CHECKING:
    import psycopg

DOCUMENT_COLUMNS = ("doc_id", "title", "text", "author", "year", "topic", "language", "source_path",
                    "file_type", "content_hash", "modified", "page_starts")
CHUNK_COLUMNS = ("chunk_id", "doc_id", "position", "start", '"end"', "text", "page")
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

TABLES = """
CREATE TABLE {schema}.documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL, author TEXT, year INTEGER,
    topic TEXT, language TEXT, source_path TEXT, file_type TEXT, content_hash TEXT,
    modified TEXT, page_starts TEXT, keywords TEXT[] NOT NULL);
CREATE TABLE {schema}.chunks (
    chunk_id BIGINT PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES {schema}.documents (doc_id),
    position INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    text TEXT NOT NULL, page INTEGER, term_ids INTEGER[] NOT NULL, bm25 SPARSEVEC NOT NULL);
CREATE TABLE {schema}.terms (term TEXT PRIMARY KEY, term_id INTEGER NOT NULL UNIQUE,
                             rows_with_term INTEGER NOT NULL);
CREATE TABLE {schema}.info (key TEXT PRIMARY KEY, value JSONB NOT NULL);
"""

INDEXES = """
CREATE INDEX ON {schema}.chunks USING gin (term_ids);
CREATE INDEX ON {schema}.chunks (doc_id);
CREATE INDEX ON {schema}.documents (year);
CREATE INDEX ON {schema}.documents (lower(topic));
CREATE INDEX ON {schema}.documents (lower(language));
CREATE INDEX ON {schema}.documents (lower(file_type));
ANALYZE {schema}.documents;
ANALYZE {schema}.chunks;
"""


def checked_schema(name: str) -> str:
    """`name` if it is a plain lower-case identifier (it is spliced into SQL), else ValueError."""
    if not _SCHEMA_NAME.fullmatch(name):
        raise ValueError(f"schema name {name!r}: use lower-case letters, digits and _ "
                         "(at most 63, not starting with a digit)")
    return name


def sparse_literal(weights: dict[int, float], dimensions: int) -> str:
    """pgvector's text form of a sparse vector (1-based indices)."""
    items = ",".join(f"{term + 1}:{weight!r}" for term, weight in sorted(weights.items()))
    return f"{{{items}}}/{dimensions}"


def select(sqlite: sqlite3.Connection, table: str, columns: tuple[str, ...]) -> str:
    """SELECT `columns` FROM `table`, with NULL for a column the index was built without."""
    present = {row[1] for row in sqlite.execute(f"PRAGMA table_info({table})")}
    return "SELECT " + ", ".join(c if c.strip('"') in present else "NULL" for c in columns) + \
        f" FROM {table}"


def load_index(connection: psycopg.Connection, folder: str | Path, schema: str,
               column_weights: tuple[float, float]) -> dict[str, int]:
    """Create `schema` (which must not exist) and fill it from the index in `folder`, in one
    transaction. Returns row counts."""
    schema = checked_schema(schema)
    manifest = read_manifest(folder)
    sqlite = connect_readonly(Path(folder) / DATABASE)
    try:
        statistics, weights = chunk_weights(sqlite, manifest["fts_tokenizer"], column_weights)
        keywords: dict[str, list[str]] = {}
        for doc_id, keyword in sqlite.execute("SELECT doc_id, keyword FROM document_keywords "
                                              "ORDER BY doc_id, rowid"):
            keywords.setdefault(doc_id, []).append(keyword)
        dimensions = max(len(statistics.term_ids), 1)
        with connection.transaction():
            connection.execute(f"CREATE SCHEMA {schema}")
            connection.execute(TABLES.format(schema=schema))
            with connection.cursor().copy(f"COPY {schema}.documents FROM STDIN") as copy:
                for row in sqlite.execute(select(sqlite, "documents", DOCUMENT_COLUMNS)):
                    copy.write_row([*row, keywords.get(row[0], [])])
            with connection.cursor().copy(f"COPY {schema}.chunks FROM STDIN") as copy:
                for row in sqlite.execute(select(sqlite, "chunks", CHUNK_COLUMNS) +
                                          " ORDER BY chunk_id"):
                    chunk = weights.get(row[0], {})
                    copy.write_row([*row, sorted(chunk), sparse_literal(chunk, dimensions)])
            with connection.cursor().copy(f"COPY {schema}.terms FROM STDIN") as copy:
                for term, term_id in statistics.term_ids.items():
                    copy.write_row([term, term_id, statistics.rows_with_term[term_id]])
            info = {"rows": statistics.rows, "tokenizer": statistics.tokenizer,
                    "column_weights": list(column_weights), "dimensions": dimensions}
            for key, value in info.items():
                connection.execute(f"INSERT INTO {schema}.info VALUES (%s, %s)",
                                   (key, json.dumps(value)))
            connection.execute(INDEXES.format(schema=schema))
        counts = {table: connection.execute(f"SELECT count(*) FROM {schema}.{table}").fetchone()[0]
                  for table in ("documents", "chunks", "terms")}
    finally:
        sqlite.close()
    return counts


def read_statistics(connection: psycopg.Connection, schema: str) -> KeywordStatistics:
    schema = checked_schema(schema)
    info = dict(connection.execute(f"SELECT key, value FROM {schema}.info").fetchall())
    term_ids, rows_with_term = {}, {}
    for term, term_id, rows in connection.execute(
            f"SELECT term, term_id, rows_with_term FROM {schema}.terms"):
        term_ids[term] = term_id
        rows_with_term[term_id] = rows
    return KeywordStatistics(term_ids, rows_with_term, info["rows"], info["tokenizer"],
                             tuple(info["column_weights"]))


class PostgresKeywordRetriever:
    """FTS5's bm25() ranking over a loaded schema: the chunk weights dotted with the query's
    IDFs (pgvector's <#> is the negated inner product), best chunk per document, documents
    ordered as the SQLite retriever orders them (score, then doc id descending)."""

    def __init__(self, connection: psycopg.Connection, schema: str,
                 stopwords: frozenset[str], column_weights: tuple[float, float]):
        self.connection = connection
        self.schema = checked_schema(schema)
        self.statistics = read_statistics(connection, schema)
        if tuple(column_weights) != self.statistics.column_weights:
            raise ValueError(f"schema {schema} holds BM25 weights for column weights "
                             f"{self.statistics.column_weights}, not {tuple(column_weights)}: "
                             "load the index again with these weights")
        self.tokenizer = QueryTokenizer(self.statistics.tokenizer)
        self.stopwords = stopwords
        self.dimensions = max(len(self.statistics.term_ids), 1)

    def search(self, query: str, depth: int) -> list[Hit]:
        weights = query_weights(query_terms(query, self.stopwords), self.statistics,
                                self.tokenizer)
        if not weights:
            return []
        sql = f"""
            WITH hits AS MATERIALIZED (
                SELECT chunk_id, doc_id, bm25 <#> %s::sparsevec AS score
                FROM {self.schema}.chunks WHERE term_ids && %s::integer[]),
            best AS (
                SELECT doc_id, chunk_id, score,
                       row_number() OVER (PARTITION BY doc_id ORDER BY score, chunk_id) AS n
                FROM hits)
            SELECT doc_id, chunk_id, score FROM best WHERE n = 1
            ORDER BY score ASC, doc_id COLLATE "C" DESC LIMIT %s"""
        rows = self.connection.execute(
            sql, (sparse_literal(weights, self.dimensions), sorted(weights), depth)).fetchall()
        return [Hit(doc_id=row[0], chunk_id=row[1], score=-row[2], rank=rank)
                for rank, row in enumerate(rows, start=1)]
