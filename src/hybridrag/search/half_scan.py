"""Exact top-n over a flat inner-product index that reads half the memory per query: an fp16
copy of the vectors is scanned, and every candidate the fp16 rounding could have misplaced is
rescored in fp32 from the flat index's own vectors.

Why: a service answers one query at a time, and each query streams the whole vector matrix
through the cache (15 MB at 10,000 x 384), evicting the query encoder's weights, which the next
query then reloads. Halving the scan cut /hybrid_search's in-process p50 by about a tenth on 2
cores (bench/service_profile.py measures it).

Exactness: for a query q and a vector x with fp16 copy x', |q.x - q.x'| <= |q| |x - x'| <= |q| e,
with e the largest rounding error over the matrix (plus a margin for fp32 accumulation: d).
So the n-th best fp16 score s' is within d of the true n-th best score, and every true top-n
vector scores at least s' - 2d in fp16; all of those are rescored exactly. The ids and scores
equal a flat search's (to fp32 rounding of the same dot products; exact ties may swap).
"""

from __future__ import annotations

import logging

import faiss
import numpy as np

from hybridrag.index.vectors import inner_index

log = logging.getLogger(__name__)

ACCUMULATION_MARGIN = 1e-4  # fp32 sums of d <= 4096 products of unit-scale terms err far less
EXTRA_CANDIDATES = 16  # the first fp16 search asks n + this many; it widens when not enough
ROUNDING_BLOCK = 1 << 16  # rows per step when measuring the rounding (bounded start-up memory)


def rounding_error(vectors: np.ndarray) -> float:
    """The largest distance between a row and its fp16 rounding."""
    return float(np.linalg.norm(vectors - vectors.astype(np.float16).astype(np.float32),
                                axis=1).max(initial=0.0))


class HalfPrecisionScan:
    """Searches like the flat `exact` index (an IndexFlatIP, bare or in an IndexIDMap): the
    same `search(queries, n, params)` and `ntotal`. Filtered searches (`params.sel`) are
    passed to `exact` unchanged."""

    def __init__(self, exact: faiss.Index):
        flat = inner_index(exact)
        if not isinstance(flat, faiss.IndexFlat) or flat.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise ValueError("a half-precision scan needs a flat inner-product index")
        self.exact = exact
        self.ntotal = exact.ntotal
        self.d = exact.d
        # a view of the flat index's own storage (no copy; `exact` keeps it alive)
        self.vectors = faiss.rev_swig_ptr(flat.get_xb(), self.ntotal * self.d).reshape(
            self.ntotal, self.d)
        self.ids = (faiss.vector_to_array(exact.id_map) if hasattr(exact, "id_map")
                    else np.arange(self.ntotal, dtype=np.int64))
        if self.ntotal and max(self.vectors.max(), -self.vectors.min()) > np.finfo(np.float16).max:
            raise ValueError("the vectors exceed fp16's range; search the flat index directly")
        self.rounding = max((rounding_error(self.vectors[start:start + ROUNDING_BLOCK])
                             for start in range(0, self.ntotal, ROUNDING_BLOCK)), default=0.0)
        self.half = faiss.IndexScalarQuantizer(self.d, faiss.ScalarQuantizer.QT_fp16,
                                               faiss.METRIC_INNER_PRODUCT)
        self.half.add(self.vectors)

    def search(self, queries: np.ndarray, n: int, params: faiss.SearchParameters | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n (scores, ids) per query row, as `exact.search` gives them."""
        if params is not None and params.sel is not None:
            return self.exact.search(queries, n, params=params)
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        n = max(1, min(n, self.ntotal))
        scores = np.empty((len(queries), n), dtype=np.float32)
        ids = np.empty((len(queries), n), dtype=np.int64)
        for row, query in enumerate(queries):
            positions, exact_scores = self._top(query, n)
            scores[row], ids[row] = exact_scores, self.ids[positions]
        return scores, ids

    def _top(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions and exact scores of one query's top n."""
        slack = 2 * (float(np.linalg.norm(query)) * self.rounding + ACCUMULATION_MARGIN)
        asked = min(self.ntotal, n + EXTRA_CANDIDATES)
        while True:
            approximate, positions = (row[0] for row in self.half.search(query[None, :], asked))
            floor = approximate[n - 1] - slack
            if asked == self.ntotal or approximate[asked - 1] < floor:
                break  # every vector that could be in the top n is among the candidates
            asked = min(self.ntotal, 4 * asked)
        candidates = positions[approximate >= floor]
        exact = self.vectors[candidates] @ query
        top = np.argsort(-exact, kind="stable")[:n]
        return candidates[top], exact[top]


def scan_in_half_precision(dense: object) -> bool:
    """Make a dense retriever over a flat FAISS index (`hybridrag.search.dense.DenseRetriever`)
    search through a HalfPrecisionScan; False, and nothing changed, for any other retriever or
    index (HNSW, IVF, PostgreSQL), whose search reads only part of the vectors anyway."""
    index = getattr(dense, "index", None)
    if not isinstance(index, faiss.Index) or not isinstance(inner_index(index), faiss.IndexFlat):
        return False
    try:
        scan = HalfPrecisionScan(index)
    except ValueError as error:
        log.warning("searching the flat index directly: %s", error)
        return False
    dense.index = scan  # type: ignore[attr-defined]
    return True
