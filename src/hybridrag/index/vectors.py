"""The FAISS half of the index: chunk embeddings keyed by chunk id (inner product = cosine)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Literal

import faiss
import numpy as np


def ivf_list_count(vectors: int, lists: int | None) -> int:
    """`lists`, or round(sqrt(vectors)) when None (1,000 lists at 1M), never more than vectors."""
    return max(1, min(vectors, lists or round(math.sqrt(vectors))))


def build_vector_index(vectors: np.ndarray, chunk_ids: np.ndarray,
                       kind: Literal["flat", "hnsw", "ivf"] = "flat", hnsw_m: int = 32,
                       hnsw_ef_construction: int = 200, ivf_lists: int | None = None
                       ) -> faiss.Index:
    """An IndexIDMap2 over a flat (exact), HNSW or IVF (both approximate) inner-product index.

    IVF clusters the vectors into `ivf_lists` lists by k-means (FAISS's fixed seed, so the
    same vectors give the same index) and searches the nearest `nprobe` lists at query time.
    """
    if vectors.ndim != 2 or len(vectors) != len(chunk_ids):
        raise ValueError(f"need one vector per chunk id, got {vectors.shape} vectors "
                         f"for {len(chunk_ids)} ids")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    if kind == "flat":
        inner = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = hnsw_ef_construction
    elif kind == "ivf":
        lists = ivf_list_count(len(vectors), ivf_lists)
        inner = faiss.index_factory(dim, f"IVF{lists},Flat", faiss.METRIC_INNER_PRODUCT)
        inner.train(vectors)
    else:
        raise ValueError(f"unknown FAISS index kind {kind!r}; use 'flat', 'hnsw' or 'ivf'")
    index = faiss.IndexIDMap2(inner)
    index.add_with_ids(vectors, np.ascontiguousarray(chunk_ids, dtype=np.int64))
    if kind == "ivf":
        faiss.extract_index_ivf(inner).make_direct_map()  # reconstruct(), for filtered searches
    return index


def save_vector_index(index: faiss.Index, path: str | os.PathLike[str]) -> None:
    faiss.write_index(index, str(path))


def load_vector_index(path: str | os.PathLike[str]) -> faiss.Index:
    target = Path(path)
    if not target.is_file():
        raise FileNotFoundError(f"vector index {target} not found; run `dvc repro build_db`")
    return faiss.read_index(str(target))


def inner_index(index: faiss.Index) -> faiss.Index:
    return faiss.downcast_index(index.index) if hasattr(index, "index") else index


def is_hnsw(index: faiss.Index) -> bool:
    return isinstance(inner_index(index), faiss.IndexHNSW)


def is_ivf(index: faiss.Index) -> bool:
    return isinstance(inner_index(index), faiss.IndexIVF)


def search_vectors(index: faiss.Index, queries: np.ndarray, n: int,
                   allowed_ids: np.ndarray | None = None, ef_search: int = 128,
                   nprobe: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Top-n (scores, chunk ids) per query row; ids of -1 mark empty slots.

    `allowed_ids` restricts the search to those chunk ids. Flat indexes filter exactly; a
    filtered HNSW or IVF search that comes back short (the graph walk or the `nprobe`
    nearest lists can miss a small allowed set) is redone exactly over the allowed vectors.
    """
    n = max(1, min(n, index.ntotal))
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    selector = None if allowed_ids is None else faiss.IDSelectorBatch(allowed_ids.astype(np.int64))
    if is_hnsw(index):
        settings = faiss.SearchParametersHNSW(efSearch=max(ef_search, n), sel=selector)
    elif is_ivf(index):
        settings = faiss.SearchParametersIVF(nprobe=nprobe, sel=selector)
    else:
        return index.search(queries, n, params=faiss.SearchParameters(sel=selector))
    scores, ids = index.search(queries, n, params=settings)
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
