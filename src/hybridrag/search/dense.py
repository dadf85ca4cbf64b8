"""Dense retrieval over the FAISS chunk index, collapsed to documents."""

from __future__ import annotations

from collections.abc import Mapping

import faiss
import numpy as np

from hybridrag.index.database import ConnectionPool
from hybridrag.index.vectors import search_vectors
from hybridrag.search.filters import Filters, allowed_chunk_ids
from hybridrag.search.hits import Hit, collapse_chunks


class DenseRetriever:
    """Cosine similarity of unit vectors; a document scores as its best chunk."""

    def __init__(self, index: faiss.Index, pool: ConnectionPool, chunk_doc: Mapping[int, str],
                 ef_search: int = 128, nprobe: int = 32, threads: int | None = None):
        """`threads`: FAISS's OpenMP threads per search (None: OpenMP's default, every core).
        A service searching one vector per request wants 1: the team of threads cost more than
        it gave (/hybrid_search dense p50 10.1 -> 6.4 ms in process, 2 cores)."""
        self.index = index
        self.threads = threads
        self.pool = pool
        self.chunk_doc = chunk_doc
        self.ef_search = ef_search
        self.nprobe = nprobe
        if len(self.chunk_doc) != index.ntotal:
            raise ValueError(f"index mismatch: {len(self.chunk_doc)} chunks in the database but "
                             f"{index.ntotal} vectors in FAISS; rebuild the index")

    def search(self, vectors: np.ndarray, depth: int, filters: Filters | None = None
               ) -> list[list[Hit]]:
        """Document hits for each query vector (one row per query)."""
        allowed = None
        if filters is not None and filters.active:
            with self.pool.connection() as connection:
                allowed = allowed_chunk_ids(connection, filters)
        if allowed is not None and len(allowed) == 0:
            return [[] for _ in range(len(vectors))]
        available = self.index.ntotal if allowed is None else len(allowed)
        n = min(available, 2 * depth)
        results = self._search(vectors, n, allowed, depth)
        # A document may own many of the top chunks: widen the search until `depth`
        # documents are found or every candidate chunk has been seen.
        while n < available:
            short = [i for i, hits in enumerate(results) if len(hits) < depth]
            if not short:
                break
            n = min(available, n * 4)
            for i, hits in zip(short, self._search(vectors[short], n, allowed, depth), strict=True):
                results[i] = hits
        return results

    def _search(self, vectors: np.ndarray, n: int, allowed: np.ndarray | None, depth: int
                ) -> list[list[Hit]]:
        if self.threads is not None:  # OpenMP's setting belongs to the calling thread
            faiss.omp_set_num_threads(self.threads)
        scores, ids = search_vectors(self.index, vectors, n, allowed, self.ef_search, self.nprobe)
        return [collapse_chunks(((int(c), float(s))
                                 for c, s in zip(id_row, score_row, strict=True) if c >= 0),
                                self.chunk_doc, depth)
                for id_row, score_row in zip(ids, scores, strict=True)]
