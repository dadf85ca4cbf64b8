"""The PostgreSQL backend of a Searcher: an index version published to its own schema
(hybridrag.postgres.publish), searched and looked up through a pool of read connections.

Reads go to `HYBRIDRAG_POSTGRES_READ_DSN` when set, else to `HYBRIDRAG_POSTGRES_DSN`. A read
DSN may list several hosts with `target_session_attrs=prefer-standby` (libpq), so searches
run on a streaming replica and fall back to the primary when none answers.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from hybridrag.config import RetrievalParams
from hybridrag.dvc_hash import dvc_directory_hash
from hybridrag.index.database import FTS_TABLE
from hybridrag.postgres.publish import DSN_VARIABLE, schema_for
from hybridrag.postgres.store import (
    CHUNK_COLUMNS,
    DOCUMENT_COLUMNS,
    PostgresDenseRetriever,
    PostgresKeywordRetriever,
    checked_schema,
)
from hybridrag.records import Chunk, Document
from hybridrag.search.snippets import highlighted_snippets

READ_DSN_VARIABLE = "HYBRIDRAG_POSTGRES_READ_DSN"  # where searches read (replicas), optional
CONNECT_SECONDS = 10  # how long opening a store waits for its first connections


def read_dsn() -> str:
    """The connection string searches use, from the environment (never logged)."""
    dsn = os.environ.get(READ_DSN_VARIABLE) or os.environ.get(DSN_VARIABLE)
    if not dsn:
        raise LookupError(f"the postgres backend reads the index from PostgreSQL: set "
                           f"{DSN_VARIABLE} (and optionally {READ_DSN_VARIABLE} for replicas) "
                           "to a libpq connection string")
    return dsn


class PostgresStore:
    """One published index version: BM25 and vectors as hybridrag.postgres.store computes
    them, documents and chunks as the embedded index returns them."""

    def __init__(self, dsn: str, schema: str, retrieval: RetrievalParams,
                 stopwords: frozenset[str], exact_dense: bool, connections: int = 1):
        try:
            from psycopg_pool import ConnectionPool, PoolTimeout
        except ImportError as error:
            raise ImportError("store.backend: postgres needs psycopg and psycopg-pool: "
                              "pip install 'hybridrag[postgres]'") from error

        self.schema = checked_schema(schema)
        self.name = f"postgres:{self.schema}"
        self.pool = ConnectionPool(dsn, min_size=connections, max_size=connections,
                                   kwargs={"autocommit": True}, open=False)
        try:
            self.pool.open(wait=True, timeout=CONNECT_SECONDS)
        except PoolTimeout:
            self.pool.close()
            raise LookupError(f"no PostgreSQL server answered the read connection string within "
                              f"{CONNECT_SECONDS} s (${READ_DSN_VARIABLE} or ${DSN_VARIABLE}: "
                              "check host, port, database and user)") from None
        try:
            with self.pool.connection() as connection:
                found = connection.execute("SELECT to_regclass(%s)",
                                           (f"{self.schema}.chunks",)).fetchone()[0]
            if found is None:
                raise LookupError(f"schema {self.schema} is not in the database: publish the "
                                  "index first (dvc repro publish_postgres, with "
                                  "store.backend=postgres)")
            self.keyword = PostgresKeywordRetriever(
                self.pool, self.schema, stopwords,
                (retrieval.bm25_title_weight, retrieval.bm25_text_weight))
            self.dense = PostgresDenseRetriever(self.pool, self.schema, retrieval.embedding,
                                                retrieval.hnsw_ef_search, exact_dense)
        except BaseException:
            self.pool.close()
            raise

    @classmethod
    def for_index(cls, index_dir: str | os.PathLike[str], retrieval: RetrievalParams,
                  stopwords: frozenset[str], exact_dense: bool, connections: int = 1,
                  data_hash: str | None = None) -> PostgresStore:
        """The schema the index folder was published to, named by its DVC hash (`data_hash`
        when the caller has computed it already: hashing reads the whole folder)."""
        return cls(read_dsn(), schema_for(data_hash or dvc_directory_hash(Path(index_dir))),
                   retrieval, stopwords, exact_dense, connections)

    def _rows(self, sql: str, params: tuple[object, ...]) -> list[tuple]:
        with self.pool.connection() as connection:
            return connection.execute(sql, params).fetchall()

    def documents(self, doc_ids: list[str]) -> dict[str, Document]:
        if not doc_ids:
            return {}
        keywords: dict[str, list[str]] = {}
        for doc_id, keyword in self._rows(
                f"SELECT doc_id, keyword FROM {self.schema}.document_keywords "
                "WHERE doc_id = ANY(%s) ORDER BY position", (doc_ids,)):
            keywords.setdefault(doc_id, []).append(keyword)
        documents = {}
        for row in self._rows(f"SELECT {', '.join(DOCUMENT_COLUMNS)} FROM {self.schema}.documents "
                              "WHERE doc_id = ANY(%s)", (doc_ids,)):
            values = dict(zip(DOCUMENT_COLUMNS, row, strict=True))
            pages = values.pop("page_starts")
            documents[values["doc_id"]] = Document(
                **values, keywords=tuple(keywords.get(values["doc_id"], ())),
                page_starts=tuple(json.loads(pages)) if pages else ())
        return documents

    def chunks(self, chunk_ids: list[int]) -> dict[int, Chunk]:
        if not chunk_ids:
            return {}
        rows = self._rows(f"SELECT {', '.join(CHUNK_COLUMNS)} FROM {self.schema}.chunks "
                          "WHERE chunk_id = ANY(%s)", (chunk_ids,))
        names = [column.strip('"') for column in CHUNK_COLUMNS]
        return {row[0]: Chunk(**dict(zip(names, row, strict=True))) for row in rows}

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        ids = [row[0] for row in self._rows(f"SELECT chunk_id FROM {self.schema}.chunks "
                                            "WHERE doc_id = %s ORDER BY position", (doc_id,))]
        chunks = self.chunks(ids)
        return [chunks[chunk_id] for chunk_id in ids]

    def snippets(self, terms: list[str], chunk_ids: list[int], words: int) -> dict[int, str]:
        """FTS5's own snippets: the chunks (and their titles) put in an in-memory FTS5 table
        with the index's tokenizer, so the marks are those of the embedded index."""
        rows = self._rows(f"SELECT c.chunk_id, d.title, c.text FROM {self.schema}.chunks c "
                          f"JOIN {self.schema}.documents d USING (doc_id) "
                          "WHERE c.chunk_id = ANY(%s)", (chunk_ids,))
        memory = sqlite3.connect(":memory:")
        try:
            tokenizer = self.keyword.statistics.tokenizer.replace("'", "''")
            memory.execute(f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(title, text, "
                           f"tokenize='{tokenizer}')")
            memory.execute("CREATE TABLE chunks (chunk_id INTEGER PRIMARY KEY, text TEXT)")
            memory.executemany(f"INSERT INTO {FTS_TABLE} (rowid, title, text) VALUES (?, ?, ?)",
                               rows)
            memory.executemany("INSERT INTO chunks VALUES (?, ?)",
                               [(chunk_id, text) for chunk_id, _, text in rows])
            return highlighted_snippets(memory, chunk_ids, terms, words)
        finally:
            memory.close()

    def close(self) -> None:
        self.pool.close()
