"""Where a Searcher reads an index: the small interface both backends implement (keyword and
dense retrieval, and the lookups that show results), and its embedded implementation over an
index folder (SQLite FTS5 + FAISS). The PostgreSQL one is hybridrag.postgres.backend."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

from hybridrag.config import RetrievalParams
from hybridrag.index import BM25_COUNTS, DATABASE, vectors_file
from hybridrag.index.bm25 import TermCounts
from hybridrag.index.database import (
    ConnectionPool,
    fetch_chunk_documents,
    fetch_chunks,
    fetch_document_chunks,
    fetch_documents,
)
from hybridrag.index.vectors import load_vector_index
from hybridrag.records import Chunk, Document
from hybridrag.search.dense import DenseRetriever
from hybridrag.search.filters import Filters
from hybridrag.search.hits import Hit
from hybridrag.search.keyword import KeywordRetriever
from hybridrag.search.snippets import highlighted_snippets
from hybridrag.search.sparse_keyword import SparseKeywordRetriever

log = logging.getLogger("hybridrag.search")


class KeywordSearch(Protocol):
    def search(self, query: str, depth: int, filters: Filters | None = None) -> list[Hit]:
        """BM25's top-`depth` documents, each scored as its best chunk (higher is better)."""


class DenseSearch(Protocol):
    def search(self, vectors: np.ndarray, depth: int, filters: Filters | None = None
               ) -> list[list[Hit]]:
        """Each query vector's top-`depth` documents by inner product with their best chunk."""


class IndexStore(Protocol):
    """An index's contents as search reads them; fusion and reranking stay in the Searcher."""

    name: str  # what responses report: "sqlite", or "postgres:<schema>"
    keyword: KeywordSearch
    dense: DenseSearch

    def documents(self, doc_ids: list[str]) -> dict[str, Document]: ...

    def chunks(self, chunk_ids: list[int]) -> dict[int, Chunk]: ...

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        """A document's chunks in order."""

    def snippets(self, terms: list[str], chunk_ids: list[int], words: int) -> dict[int, str]:
        """HTML-escaped snippets with `terms` marked as FTS5 matches them, per chunk id."""

    def close(self) -> None: ...


class SqliteStore:
    """The index folder itself: FTS5 for BM25, FAISS for vectors, SQLite for the rest."""

    name = "sqlite"

    def __init__(self, index_dir: str | os.PathLike[str], retrieval: RetrievalParams,
                 stopwords: frozenset[str], connections: int = 1, faiss_threads: int | None = None):
        folder = Path(index_dir)
        self.pool = ConnectionPool(folder / DATABASE, connections)
        with self.pool.connection() as connection:
            chunk_doc = fetch_chunk_documents(connection)
        self.keyword = keyword_retriever(folder, self.pool, chunk_doc, retrieval, stopwords)
        self.dense = DenseRetriever(
            load_vector_index(folder / vectors_file(retrieval.embedding)), self.pool, chunk_doc,
            retrieval.hnsw_ef_search, retrieval.ivf_nprobe, faiss_threads)

    def documents(self, doc_ids: list[str]) -> dict[str, Document]:
        with self.pool.connection() as connection:
            return fetch_documents(connection, doc_ids)

    def chunks(self, chunk_ids: list[int]) -> dict[int, Chunk]:
        with self.pool.connection() as connection:
            return fetch_chunks(connection, chunk_ids)

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        with self.pool.connection() as connection:
            return fetch_document_chunks(connection, doc_id)

    def snippets(self, terms: list[str], chunk_ids: list[int], words: int) -> dict[int, str]:
        with self.pool.connection() as connection:
            return highlighted_snippets(connection, chunk_ids, terms, words)

    def close(self) -> None:
        self.pool.close()


def keyword_retriever(folder: Path, pool: ConnectionPool, chunk_doc: Mapping[int, str],
                      retrieval: RetrievalParams, stopwords: frozenset[str]
                      ) -> KeywordRetriever | SparseKeywordRetriever:
    """retrieval.keyword_engine's retriever: the precomputed weights (sparse) where the index
    has them, else FTS5 (an index built before them, with a warning that says so)."""
    weights = (retrieval.bm25_title_weight, retrieval.bm25_text_weight)
    if retrieval.keyword_engine == "sparse":
        if (folder / BM25_COUNTS).is_dir():
            return SparseKeywordRetriever(TermCounts.load(folder / BM25_COUNTS), pool, chunk_doc,
                                          *weights, stopwords)
        log.warning("%s has no BM25 term counts (built before them): keyword search runs on "
                    "FTS5; rebuild the index for the faster engine", folder)
    return KeywordRetriever(pool, *weights, stopwords)
