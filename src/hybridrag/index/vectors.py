"""The FAISS half of the index: chunk embeddings keyed by chunk id (inner product = cosine)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import faiss
import numpy as np


def build_vector_index(vectors: np.ndarray, chunk_ids: np.ndarray,
                       kind: Literal["flat", "hnsw"] = "flat", hnsw_m: int = 32,
                       hnsw_ef_construction: int = 200) -> faiss.Index:
    """An IndexIDMap2 over a flat (exact) or HNSW (approximate) inner-product index."""
    if vectors.ndim != 2 or len(vectors) != len(chunk_ids):
        raise ValueError(f"need one vector per chunk id, got {vectors.shape} vectors "
                         f"for {len(chunk_ids)} ids")
    dim = vectors.shape[1]
    if kind == "flat":
        inner = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = hnsw_ef_construction
    else:
        raise ValueError(f"unknown FAISS index kind {kind!r}; use 'flat' or 'hnsw'")
    index = faiss.IndexIDMap2(inner)
    index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                       np.ascontiguousarray(chunk_ids, dtype=np.int64))
    return index


def save_vector_index(index: faiss.Index, path: str | os.PathLike[str]) -> None:
    faiss.write_index(index, str(path))


def load_vector_index(path: str | os.PathLike[str]) -> faiss.Index:
    target = Path(path)
    if not target.is_file():
        raise FileNotFoundError(f"vector index {target} not found; run `dvc repro build_db`")
    return faiss.read_index(str(target))


def is_hnsw(index: faiss.Index) -> bool:
    inner = faiss.downcast_index(index.index) if hasattr(index, "index") else index
    return isinstance(inner, faiss.IndexHNSW)


def search_vectors(index: faiss.Index, queries: np.ndarray, n: int,
                   allowed_ids: np.ndarray | None = None, ef_search: int = 128
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Top-n (scores, chunk ids) per query row; ids of -1 mark empty slots.

    `allowed_ids` restricts the search to those chunk ids. Flat indexes filter exactly; a
    filtered HNSW search that comes back short (the graph walk can miss a small allowed
    set) is redone exactly over the allowed vectors.
    """
    n = max(1, min(n, index.ntotal))
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    selector = None if allowed_ids is None else faiss.IDSelectorBatch(allowed_ids.astype(np.int64))
    if not is_hnsw(index):
        return index.search(queries, n, params=faiss.SearchParameters(sel=selector))
    scores, ids = index.search(queries, n, params=faiss.SearchParametersHNSW(
        efSearch=max(ef_search, n), sel=selector))
    if allowed_ids is not None:
        expected = min(n, len(allowed_ids))
        for row in np.flatnonzero((ids >= 0).sum(axis=1) < expected):
            scores[row], ids[row] = _exact_search(index, queries[row], n, allowed_ids)
    return scores, ids


def _exact_search(index: faiss.Index, query: np.ndarray, n: int, allowed_ids: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    vectors = np.stack([index.reconstruct(int(i)) for i in allowed_ids])
    similarities = vectors @ query
    order = np.argsort(-similarities, kind="stable")[:n]
    scores = np.full(n, -np.finfo(np.float32).max, dtype=np.float32)
    ids = np.full(n, -1, dtype=np.int64)
    scores[: len(order)] = similarities[order]
    ids[: len(order)] = allowed_ids[order]
    return scores, ids
