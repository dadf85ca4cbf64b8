"""BM25 from the index's precomputed term counts (hybridrag.index.bm25): FTS5's scores and
ranking without FTS5 at query time. A query adds up a few term columns of a sparse matrix of
saturated chunk weights, each times the term's IDF, and keeps the best chunk of the top
documents."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hybridrag.index.bm25 import QueryTokenizer, TermCounts, query_weights
from hybridrag.index.database import ConnectionPool
from hybridrag.search.filters import Filters, allowed_chunk_ids
from hybridrag.search.fts_query import ENGLISH_STOPWORDS, query_terms
from hybridrag.search.hits import Hit


class SparseKeywordRetriever:
    """The same hits as KeywordRetriever (FTS5 bm25() with these column weights, a document
    scored by its best chunk, ties by document id descending), from term counts in memory."""

    def __init__(self, counts: TermCounts, pool: ConnectionPool, chunk_doc: Mapping[int, str],
                 title_weight: float = 2.0, text_weight: float = 1.0,
                 stopwords: frozenset[str] = ENGLISH_STOPWORDS):
        self.pool = pool  # filters: the allowed chunks come from SQLite
        self.stopwords = stopwords
        self.starts = np.asarray(counts.starts)
        self.weights = counts.weights((title_weight, text_weight))
        self.statistics = counts.statistics((title_weight, text_weight))
        self.tokenizer = QueryTokenizer(counts.tokenizer)
        self.chunk_ids = np.fromiter(sorted(chunk_doc), dtype=np.int64, count=len(chunk_doc))
        self.posting_rows = np.searchsorted(self.chunk_ids, counts.posting_chunks)
        if len(self.posting_rows) and (self.posting_rows.max() >= len(self.chunk_ids) or not
                                       np.array_equal(self.chunk_ids[self.posting_rows],
                                                      counts.posting_chunks)):
            raise ValueError("the index's BM25 term counts name chunks its database lacks; "
                             "rebuild the index (dvc repro build_db)")
        self.doc_ids = sorted(set(chunk_doc.values()))  # a document's rank in id order breaks ties
        rank = {doc_id: i for i, doc_id in enumerate(self.doc_ids)}
        self.row_doc = np.fromiter((rank[chunk_doc[c]] for c in self.chunk_ids.tolist()),
                                   dtype=np.int64, count=len(self.chunk_ids))

    def chunk_scores(self, query: str) -> np.ndarray:
        """Every chunk's BM25 score for `query`, by row of `chunk_ids` (0: no query term)."""
        idf = query_weights(query_terms(query, self.stopwords), self.statistics, self.tokenizer)
        spans = [(int(self.starts[term]), int(self.starts[term + 1]), weight)
                 for term, weight in idf.items()]
        if not spans:
            return np.zeros(len(self.chunk_ids))
        rows = np.concatenate([self.posting_rows[start:end] for start, end, _ in spans])
        contributions = np.concatenate([self.weights[start:end] * idf_weight
                                        for start, end, idf_weight in spans])
        return np.bincount(rows, contributions, minlength=len(self.chunk_ids))

    def search(self, query: str, depth: int, filters: Filters | None = None) -> list[Hit]:
        scores = self.chunk_scores(query)
        rows = np.flatnonzero(scores)
        if filters is not None and filters.active and len(rows):
            with self.pool.connection() as connection:
                allowed = allowed_chunk_ids(connection, filters)
            rows = rows[np.isin(self.chunk_ids[rows], allowed, assume_unique=True)]
        return self._top_documents(rows, scores[rows], depth)

    def _top_documents(self, rows: np.ndarray, scores: np.ndarray, depth: int) -> list[Hit]:
        """The `depth` best documents among chunk `rows`: each by its best chunk, ranked by
        score, then document id descending. Only chunks scoring at least the k-th best are
        sorted, k widened until they hold `depth` documents (every document left out scores
        below all of them)."""
        kept = np.arange(len(rows))
        k = 4 * depth
        while k < len(rows):
            kept = np.flatnonzero(scores >= np.partition(scores, len(rows) - k)[len(rows) - k])
            if len(np.unique(self.row_doc[rows[kept]])) >= depth:
                break
            k *= 4
        else:
            kept = np.arange(len(rows))
        docs = self.row_doc[rows[kept]]
        order = kept[np.lexsort((-docs, -scores[kept]))]  # score, then doc id, descending
        _, first = np.unique(self.row_doc[rows[order]], return_index=True)
        best = order[np.sort(first)][:depth]
        return [Hit(doc_id=self.doc_ids[self.row_doc[rows[i]]], chunk_id=int(self.chunk_ids[rows[i]]),
                    score=float(scores[i]), rank=rank) for rank, i in enumerate(best.tolist(), start=1)]
