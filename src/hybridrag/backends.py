"""The store a Searcher reads, chosen by params.yaml's `store` section: the index folder
(sqlite, the default) or the PostgreSQL schema it was published to (postgres)."""

from __future__ import annotations

import os
from pathlib import Path

from hybridrag.config import FusionParams, RetrievalParams, StoreParams
from hybridrag.index import embedding_info, read_manifest
from hybridrag.search.fts_query import stopwords_for
from hybridrag.search.searcher import Searcher
from hybridrag.search.store import IndexStore, SqliteStore


def open_store(store: StoreParams, index_dir: str | os.PathLike[str],
               retrieval: RetrievalParams, connections: int = 1,
               data_hash: str | None = None, faiss_threads: int | None = None) -> IndexStore:
    """`data_hash`: the folder's DVC hash, if known (postgres names its schema by it);
    `faiss_threads`: FAISS threads per dense search (sqlite; see DenseRetriever)."""
    manifest = read_manifest(Path(index_dir))
    embedding_info(manifest, retrieval.embedding)  # an unknown embedding set is named first
    stopwords = stopwords_for(retrieval.stopwords, manifest.get("main_language"))
    if store.backend == "sqlite":
        return SqliteStore(index_dir, retrieval, stopwords, connections, faiss_threads)
    from hybridrag.postgres.backend import PostgresStore

    return PostgresStore.for_index(index_dir, retrieval, stopwords,
                                   store.postgres_dense == "exact", connections, data_hash)


def open_searcher(store: StoreParams, index_dir: str | os.PathLike[str],
                  retrieval: RetrievalParams, fusion: FusionParams, connections: int = 1,
                  data_hash: str | None = None, faiss_threads: int | None = None,
                  **options) -> Searcher:
    """A Searcher over `index_dir` that reads from the backend `store` names (options: as
    Searcher's)."""
    return Searcher(index_dir, retrieval, fusion, connections=connections,
                    store=open_store(store, index_dir, retrieval, connections, data_hash,
                                     faiss_threads),
                    **options)
