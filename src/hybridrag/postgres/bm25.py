"""SQLite FTS5's bm25() as a dot product of sparse vectors, so that PostgreSQL (pgvector
`sparsevec`) ranks keyword queries exactly as the embedded index does.

FTS5 scores a row for phrases i as  sum_i IDF(i) * f_i (k1 + 1) / (f_i + k1 (1 - b + b D / avgdl)),
with f_i the column-weighted count of phrase i in the row, D the row's token count (all
columns), avgdl the mean of D, and IDF(i) = log((N - n_i + 0.5) / (n_i + 0.5)), floored at 1e-6.
Everything but IDF depends on the row only, so each chunk stores its saturated weights per
term and a query is the vector of its terms' IDFs. The tokens are FTS5's own: read from the
built index through `fts5vocab`, and for queries from an in-memory FTS5 table with the
index's tokenizer.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

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


def chunk_weights(connection: sqlite3.Connection, tokenizer: str,
                  column_weights: tuple[float, float]
                  ) -> tuple[KeywordStatistics, dict[int, dict[int, float]]]:
    """From a built index's database: the statistics and, per chunk id, {term id: weight}."""
    connection.execute(f"CREATE VIRTUAL TABLE temp.vocab_instance USING fts5vocab(main, "
                       f"{FTS_TABLE}, instance)")
    connection.execute(f"CREATE VIRTUAL TABLE temp.vocab_row USING fts5vocab(main, {FTS_TABLE}, row)")
    try:
        term_ids: dict[str, int] = {}
        rows_with_term: dict[int, int] = {}
        for term, rows in connection.execute("SELECT term, doc FROM temp.vocab_row ORDER BY term"):
            rows_with_term[term_ids.setdefault(term, len(term_ids))] = rows
        counts: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        lengths: dict[int, int] = defaultdict(int)
        columns = {"title": column_weights[0], "text": column_weights[1]}
        for term, chunk_id, column, hits in connection.execute(
                "SELECT term, doc, col, count(*) FROM temp.vocab_instance GROUP BY doc, term, col"):
            counts[chunk_id][term_ids[term]] += columns[column] * hits
            lengths[chunk_id] += hits
        rows = connection.execute(f"SELECT count(*) FROM {FTS_TABLE}").fetchone()[0]
    finally:
        connection.execute("DROP TABLE temp.vocab_instance")
        connection.execute("DROP TABLE temp.vocab_row")
    average = sum(lengths.values()) / rows if rows else 0.0
    weights = {chunk_id: {term: f * (K1 + 1) / (f + K1 * (1 - B + B * lengths[chunk_id] / average))
                          for term, f in terms.items()}
               for chunk_id, terms in counts.items()}
    return KeywordStatistics(term_ids, rows_with_term, rows, tokenizer, column_weights), weights


class QueryTokenizer:
    """FTS5's tokenizer on query terms (an in-memory FTS5 table), one per calling thread."""

    def __init__(self, tokenizer: str):
        self.tokenizer = tokenizer
        self._local = threading.local()

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

    def tokens(self, term: str) -> list[str]:
        connection = self.connection
        with connection:
            connection.execute("DELETE FROM q")
            connection.execute("INSERT INTO q (t) VALUES (?)", (term,))
            return [row[0] for row in connection.execute(
                "SELECT term FROM q_vocab ORDER BY offset")]


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
