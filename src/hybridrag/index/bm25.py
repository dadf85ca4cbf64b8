"""SQLite FTS5's bm25() as a dot product of sparse vectors, so that keyword search can run
without FTS5 and still rank exactly as it does: in memory from term counts the index keeps
(hybridrag.search.sparse_keyword), and in PostgreSQL (pgvector `sparsevec`).

FTS5 scores a row for phrases i as  sum_i IDF(i) * f_i (k1 + 1) / (f_i + k1 (1 - b + b D / avgdl)),
with f_i the column-weighted count of phrase i in the row, D the row's token count (all
columns), avgdl the mean of D, and IDF(i) = log((N - n_i + 0.5) / (n_i + 0.5)), floored at 1e-6.
Everything but IDF depends on the row only, so each chunk stores its saturated weights per
term and a query is the vector of its terms' IDFs. The tokens are FTS5's own: read from the
built index through `fts5vocab`, and for queries from an in-memory FTS5 table with the
index's tokenizer.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from hybridrag.index.database import FTS_TABLE

K1 = 1.2  # FTS5's bm25() constants (fts5_aux.c)
B = 0.75
MIN_IDF = 1e-6


@dataclass(frozen=True)
class KeywordStatistics:
    """What the query side needs: the term ids, each term's row count, the row count."""

    term_ids: dict[str, int]
    rows_with_term: dict[int, int]
    rows: int
    tokenizer: str
    column_weights: tuple[float, float]  # (title, text), baked into the chunk weights

    def idf(self, term_id: int) -> float:
        n = self.rows_with_term[term_id]
        return max(math.log((self.rows - n + 0.5) / (n + 0.5)), MIN_IDF)


@dataclass(frozen=True)
class TermCounts:
    """FTS5's own token counts in a built index, for BM25 under any column weights: per posting
    (a term in a chunk) its hits in the title and in the text, postings grouped by term in
    vocabulary order (term t's are `starts[t]:starts[t + 1]`), and each chunk's token count."""

    terms: list[str]  # sorted, as fts5vocab lists them; a term's id is its position
    rows_with_term: np.ndarray  # chunks holding each term
    starts: np.ndarray  # len(terms) + 1 offsets into the posting arrays
    posting_chunks: np.ndarray  # chunk id of each posting, ascending within a term
    title_hits: np.ndarray
    text_hits: np.ndarray
    chunk_ids: np.ndarray  # chunks with at least one token, ascending
    chunk_lengths: np.ndarray  # their token counts (all columns)
    rows: int  # chunks in the FTS5 table, empty ones included
    tokenizer: str

    def statistics(self, column_weights: tuple[float, float]) -> KeywordStatistics:
        return KeywordStatistics({term: i for i, term in enumerate(self.terms)},
                                 dict(enumerate(self.rows_with_term.tolist())), self.rows,
                                 self.tokenizer, column_weights)

    def weights(self, column_weights: tuple[float, float]) -> np.ndarray:
        """Each posting's saturated, length-normalised BM25 weight under `column_weights`
        (title, text): FTS5's bm25() is the sum over query terms of IDF x this."""
        title, text = column_weights
        frequency = text * self.text_hits.astype(np.float64) + title * self.title_hits
        lengths = self.chunk_lengths[np.searchsorted(self.chunk_ids, self.posting_chunks)]
        average = self.chunk_lengths.sum() / self.rows if self.rows else 0.0
        return frequency * (K1 + 1) / (frequency + K1 * (1 - B + B * lengths / average))

    def save(self, folder: Path) -> None:
        """Into `folder` (new): one .npy per array, memory-mappable, and the vocabulary."""
        folder.mkdir()
        for name in ARRAYS:
            np.save(folder / f"{name}.npy", getattr(self, name))
        (folder / "terms.json").write_text(json.dumps(
            {"terms": self.terms, "rows": self.rows, "tokenizer": self.tokenizer}))

    @classmethod
    def load(cls, folder: Path) -> TermCounts:
        """What `save` wrote, the arrays memory-mapped."""
        info = json.loads((folder / "terms.json").read_text())
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in ARRAYS}
        return cls(terms=info["terms"], rows=info["rows"], tokenizer=info["tokenizer"], **arrays)


ARRAYS = ("rows_with_term", "starts", "posting_chunks", "title_hits", "text_hits", "chunk_ids",
          "chunk_lengths")


def term_counts(connection: sqlite3.Connection, tokenizer: str) -> TermCounts:
    """A built index's TermCounts, read through FTS5's own vocabulary tables (streamed into
    arrays: at a million chunks there are tens of millions of postings)."""
    for kind in ("instance", "row", "col"):
        connection.execute(f"CREATE VIRTUAL TABLE temp.vocab_{kind} USING fts5vocab(main, "
                           f"{FTS_TABLE}, {kind})")
    cursor = connection.cursor()
    cursor.row_factory = None  # plain tuples, whatever the connection's factory
    try:
        vocabulary = cursor.execute("SELECT term, doc FROM temp.vocab_row ORDER BY term").fetchall()
        # rows of the grouped instances below per term: one per column a chunk holds it in
        groups = np.fromiter((n for _, n in cursor.execute(
            "SELECT term, sum(doc) FROM temp.vocab_col GROUP BY term ORDER BY term")), np.int64)
        instances = np.fromiter(
            cursor.execute("SELECT doc, col = 'title', count(*) FROM temp.vocab_instance "
                           "GROUP BY term, doc, col ORDER BY term, doc, col"),
            np.dtype([("chunk", np.int64), ("title", np.bool_), ("hits", np.int64)]))
        rows = cursor.execute(f"SELECT count(*) FROM {FTS_TABLE}").fetchone()[0]
    finally:
        for kind in ("instance", "row", "col"):
            connection.execute(f"DROP TABLE temp.vocab_{kind}")
    if len(groups) != len(vocabulary) or groups.sum() != len(instances):
        raise RuntimeError("FTS5's vocabulary tables disagree; the index database is damaged")
    instance_terms = np.repeat(np.arange(len(vocabulary)), groups)
    chunks = instances["chunk"]
    new_posting = np.ones(len(instances), dtype=bool)
    new_posting[1:] = (instance_terms[1:] != instance_terms[:-1]) | (chunks[1:] != chunks[:-1])
    posting = np.cumsum(new_posting) - 1
    count = int(posting[-1]) + 1 if len(posting) else 0
    title = instances["title"]
    title_hits = np.bincount(posting[title], instances["hits"][title], minlength=count)
    text_hits = np.bincount(posting[~title], instances["hits"][~title], minlength=count)
    posting_chunks = chunks[new_posting]
    chunk_ids, inverse = np.unique(posting_chunks, return_inverse=True)
    chunk_lengths = np.bincount(inverse, title_hits + text_hits, minlength=len(chunk_ids))
    return TermCounts(
        terms=[term for term, _ in vocabulary],
        rows_with_term=np.array([n for _, n in vocabulary], dtype=np.int64),
        starts=np.searchsorted(instance_terms[new_posting], np.arange(len(vocabulary) + 1)),
        posting_chunks=posting_chunks, title_hits=title_hits.astype(np.int64),
        text_hits=text_hits.astype(np.int64), chunk_ids=chunk_ids,
        chunk_lengths=chunk_lengths.astype(np.int64), rows=rows, tokenizer=tokenizer)


def chunk_weights(connection: sqlite3.Connection, tokenizer: str,
                  column_weights: tuple[float, float]
                  ) -> tuple[KeywordStatistics, dict[int, dict[int, float]]]:
    """From a built index's database: the statistics and, per chunk id, {term id: weight}."""
    counts = term_counts(connection, tokenizer)
    weights: dict[int, dict[int, float]] = defaultdict(dict)
    terms = np.repeat(np.arange(len(counts.terms)), np.diff(counts.starts))
    for term, chunk, weight in zip(terms.tolist(), counts.posting_chunks.tolist(),
                                   counts.weights(column_weights).tolist(), strict=True):
        weights[chunk][term] = weight
    return counts.statistics(column_weights), dict(weights)


class QueryTokenizer:
    """FTS5's tokenizer on query terms (an in-memory FTS5 table, one per calling thread), each
    term's tokens remembered: tokenizing took half of a sparse keyword query's time."""

    def __init__(self, tokenizer: str, remembered: int = 1 << 16):
        self.tokenizer = tokenizer
        self._local = threading.local()
        self.tokens = lru_cache(maxsize=remembered)(self._tokenize)

    @property
    def connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(":memory:")
            quoted = self.tokenizer.replace("'", "''")
            connection.execute(f"CREATE VIRTUAL TABLE q USING fts5(t, tokenize='{quoted}')")
            connection.execute("CREATE VIRTUAL TABLE q_vocab USING fts5vocab(q, instance)")
            self._local.connection = connection
        return connection

    def _tokenize(self, term: str) -> tuple[str, ...]:
        connection = self.connection
        with connection:
            connection.execute("DELETE FROM q")
            connection.execute("INSERT INTO q (t) VALUES (?)", (term,))
            return tuple(row[0] for row in connection.execute(
                "SELECT term FROM q_vocab ORDER BY offset"))


def query_weights(terms: Sequence[str], statistics: KeywordStatistics,
                  tokenizer: QueryTokenizer) -> dict[int, float]:
    """{term id: IDF} for the query's terms (each a quoted phrase OR-ed in the FTS5 query; a
    term that two query words both stem to counts twice, as in FTS5). Terms the index lacks
    are dropped: they match no row."""
    weights: dict[int, float] = defaultdict(float)
    for term in terms:
        for token in tokenizer.tokens(term):
            term_id = statistics.term_ids.get(token)
            if term_id is not None:
                weights[term_id] += statistics.idf(term_id)
    return dict(weights)
