"""A built index (SQLite + FAISS folder) loaded into one PostgreSQL schema, and keyword and dense
search over it that return what the embedded index returns.

Tables: `documents` (metadata) and `document_keywords`, as in SQLite, the fields compared
without case as `citext` (so the embedded index's filter SQL runs unchanged), `chunks` (text,
page, section, the chunk's BM25 weights as a `sparsevec` and its term ids with a GIN index for finding
candidates), `terms` (term, id, rows holding it), `info` (row count, tokenizer, the column
weights the BM25 weights were made with) and, per embedding set of the index,
`vectors_<name>` (chunk id, document id, the unit vector) with an HNSW index on inner product.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hybridrag.index import DATABASE, read_manifest, vectors_file
from hybridrag.index.bm25 import KeywordStatistics, QueryTokenizer, chunk_weights, query_weights
from hybridrag.index.database import connect_readonly, fetch_chunk_documents
from hybridrag.index.vectors import load_vector_index
from hybridrag.search.filters import Filters, filter_sql
from hybridrag.search.fts_query import query_terms
from hybridrag.search.hits import Hit, collapse_chunks

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

DOCUMENT_COLUMNS = ("doc_id", "title", "text", "author", "year", "topic", "language", "source_path",
                    "file_type", "content_hash", "modified", "page_starts")
CHUNK_COLUMNS = ("chunk_id", "doc_id", "position", "start", '"end"', "text", "page", "section")
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

TABLES = """
CREATE TABLE {schema}.documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL,
    author CITEXT, year INTEGER, topic CITEXT, language CITEXT, source_path TEXT, file_type CITEXT,
    content_hash TEXT, modified TEXT, page_starts TEXT);
CREATE TABLE {schema}.document_keywords (
    doc_id TEXT NOT NULL REFERENCES {schema}.documents (doc_id),
    keyword CITEXT NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (doc_id, keyword));
CREATE TABLE {schema}.chunks (
    chunk_id BIGINT PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES {schema}.documents (doc_id),
    position INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    text TEXT NOT NULL, page INTEGER, section TEXT, term_ids INTEGER[] NOT NULL,
    bm25 SPARSEVEC NOT NULL);
CREATE TABLE {schema}.terms (term TEXT PRIMARY KEY, term_id INTEGER NOT NULL UNIQUE,
                             rows_with_term INTEGER NOT NULL);
CREATE TABLE {schema}.info (key TEXT PRIMARY KEY, value JSONB NOT NULL);
"""
# SQLite's NOCASE (ASCII case folding): citext columns compared under the "C" collation,
# which the embedded index's filter SQL names as NOCASE
NOCASE = """
CREATE EXTENSION IF NOT EXISTS citext;
CREATE COLLATION IF NOT EXISTS public.nocase FROM "C";
"""

INDEXES = """
CREATE INDEX ON {schema}.chunks USING gin (term_ids);
CREATE INDEX ON {schema}.chunks (doc_id);
CREATE INDEX ON {schema}.documents (year);
CREATE INDEX ON {schema}.documents (topic);
CREATE INDEX ON {schema}.documents (language);
CREATE INDEX ON {schema}.documents (file_type);
CREATE INDEX ON {schema}.document_keywords (keyword);
ANALYZE {schema}.documents;
ANALYZE {schema}.chunks;
"""


def filter_condition(filters: Filters | None) -> tuple[str, list[object]]:
    """The embedded index's filter SQL (search.filters.filter_sql), which means the same over
    this schema's nocase columns, with psycopg's placeholders; run it with the schema first
    on the search path (it names document_keywords unqualified)."""
    if filters is None or not filters.active:
        return "TRUE", []
    condition, params = filter_sql(filters)
    return condition.replace("?", "%s"), params


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


def indexed_vectors(folder: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(chunk ids, vectors) of one embedding set, read back from its FAISS index."""
    import faiss

    index = load_vector_index(folder / vectors_file(name))
    inner = faiss.downcast_index(index.index)
    return faiss.vector_to_array(index.id_map), inner.reconstruct_n(0, inner.ntotal)


def vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


def load_index(connection: psycopg.Connection, folder: str | Path, schema: str,
               column_weights: tuple[float, float], hnsw_m: int, hnsw_ef_construction: int
               ) -> dict[str, int]:
    """Create `schema` (which must not exist) and fill it from the index in `folder`, in one
    transaction. Returns row counts."""
    schema = checked_schema(schema)
    manifest = read_manifest(folder)
    sqlite = connect_readonly(Path(folder) / DATABASE)
    try:
        statistics, weights = chunk_weights(sqlite, manifest["fts_tokenizer"], column_weights)
        dimensions = max(len(statistics.term_ids), 1)
        with connection.transaction():
            connection.execute(NOCASE)
            connection.execute(f"CREATE SCHEMA {schema}")
            connection.execute(TABLES.format(schema=schema))
            with connection.cursor().copy(f"COPY {schema}.documents FROM STDIN") as copy:
                for row in sqlite.execute(select(sqlite, "documents", DOCUMENT_COLUMNS)):
                    copy.write_row(row)
            with connection.cursor().copy(f"COPY {schema}.document_keywords FROM STDIN") as copy:
                for row in sqlite.execute("SELECT doc_id, keyword, rowid FROM document_keywords"):
                    copy.write_row(row)
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
            doc_of = fetch_chunk_documents(sqlite)
            for name, info_of_set in manifest["embeddings"].items():
                table = f"{schema}.vectors_{checked_schema(name)}"
                connection.execute(
                    f"CREATE TABLE {table} (chunk_id BIGINT PRIMARY KEY REFERENCES "
                    f"{schema}.chunks (chunk_id), doc_id TEXT NOT NULL, "
                    f"embedding VECTOR({int(info_of_set['dimension'])}) NOT NULL)")
                with connection.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                    for chunk_id, vector in zip(*indexed_vectors(Path(folder), name), strict=True):
                        copy.write_row([int(chunk_id), doc_of[int(chunk_id)], vector_literal(vector)])
                connection.execute(f"CREATE INDEX ON {table} USING hnsw (embedding vector_ip_ops) "
                                   f"WITH (m = {int(hnsw_m)}, "
                                   f"ef_construction = {int(hnsw_ef_construction)})")
                connection.execute(f"ANALYZE {table}")
        tables = ["documents", "chunks", "terms"] + [f"vectors_{n}" for n in manifest["embeddings"]]
        counts = {table: connection.execute(f"SELECT count(*) FROM {schema}.{table}").fetchone()[0]
                  for table in tables}
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
    ordered as the SQLite retriever orders them (score, then doc id descending).

    `pool` lends one connection per search (psycopg_pool.ConnectionPool, autocommit)."""

    def __init__(self, pool: ConnectionPool, schema: str,
                 stopwords: frozenset[str], column_weights: tuple[float, float]):
        self.pool = pool
        self.schema = checked_schema(schema)
        with pool.connection() as connection:
            self.statistics = read_statistics(connection, schema)
        if tuple(column_weights) != self.statistics.column_weights:
            raise ValueError(f"schema {schema} holds BM25 weights for column weights "
                             f"{self.statistics.column_weights}, not {tuple(column_weights)}: "
                             "load the index again with these weights")
        self.tokenizer = QueryTokenizer(self.statistics.tokenizer)
        self.stopwords = stopwords
        self.dimensions = max(len(self.statistics.term_ids), 1)

    def search(self, query: str, depth: int, filters: Filters | None = None) -> list[Hit]:
        weights = query_weights(query_terms(query, self.stopwords), self.statistics,
                                self.tokenizer)
        if not weights:
            return []
        condition, params = filter_condition(filters)
        sql = f"""
            WITH hits AS MATERIALIZED (
                SELECT c.chunk_id, c.doc_id, c.bm25 <#> %s::sparsevec AS score
                FROM {self.schema}.chunks c JOIN {self.schema}.documents d USING (doc_id)
                WHERE c.term_ids && %s::integer[] AND {condition}),
            best AS (
                SELECT doc_id, chunk_id, score,
                       row_number() OVER (PARTITION BY doc_id ORDER BY score, chunk_id) AS n
                FROM hits)
            SELECT doc_id, chunk_id, score FROM best WHERE n = 1
            ORDER BY score ASC, doc_id COLLATE "C" DESC LIMIT %s"""
        with self.pool.connection() as connection, connection.transaction():
            connection.execute(f"SET LOCAL search_path = {self.schema}, public")
            rows = connection.execute(
                sql, (sparse_literal(weights, self.dimensions), sorted(weights), *params, depth)
            ).fetchall()
        return [Hit(doc_id=row[0], chunk_id=row[1], score=-row[2], rank=rank)
                for rank, row in enumerate(rows, start=1)]


class PostgresDenseRetriever:
    """Inner product of unit vectors (pgvector <#>), a document scoring as its best chunk, as
    DenseRetriever does over FAISS. `exact` scans every vector (FAISS flat's results); else the
    HNSW index answers with `ef_search`, and with filters its iterative scan keeps going
    until enough rows pass them."""

    def __init__(self, pool: ConnectionPool, schema: str, embedding: str,
                 ef_search: int, exact: bool):
        self.pool = pool
        self.schema = checked_schema(schema)
        self.table = f"{self.schema}.vectors_{checked_schema(embedding)}"
        self.ef_search = ef_search
        self.exact = exact
        with pool.connection() as connection:
            self.total = connection.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0]

    def search(self, vectors: np.ndarray, depth: int, filters: Filters | None = None
               ) -> list[list[Hit]]:
        """Document hits for each query vector (one row per query)."""
        return [self._search_one(vector, depth, filters) for vector in vectors]

    def _search_one(self, vector: np.ndarray, depth: int, filters: Filters | None) -> list[Hit]:
        condition, params = filter_condition(filters)
        where = "" if condition == "TRUE" else (
            f"WHERE v.doc_id IN (SELECT d.doc_id FROM {self.schema}.documents d WHERE {condition})")
        sql = (f"SELECT v.chunk_id, v.doc_id, v.embedding <#> %s::vector AS distance "
               f"FROM {self.table} v {where} ORDER BY distance LIMIT %s")
        literal = vector_literal(vector)
        n = min(self.total, 2 * depth)
        while True:
            with self.pool.connection() as connection, connection.transaction():
                connection.execute(f"SET LOCAL search_path = {self.schema}, public")
                if self.exact:
                    connection.execute("SET LOCAL enable_indexscan = off")
                else:
                    ef_search = max(self.ef_search, min(n, 1000))  # pgvector's ceiling: 1000
                    connection.execute(f"SET LOCAL hnsw.ef_search = {int(ef_search)}")
                    connection.execute("SET LOCAL hnsw.iterative_scan = strict_order")
                rows = connection.execute(sql, (literal, *params, n)).fetchall()
            hits = collapse_chunks(((row[0], -row[2]) for row in rows),
                                   {row[0]: row[1] for row in rows}, depth)
            # a document may own many of the top chunks: widen until `depth` documents
            if len(hits) >= depth or len(rows) < n or n >= self.total:
                return hits
            n = min(self.total, n * 4)
