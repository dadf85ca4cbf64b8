"""Solved examples as a numeric question's context: its nearest training questions with their
true values, found by meaning (unit vectors from the retrieval encoder, the seed's "semantic
RAG") or by words (SQLite FTS5's BM25, the keyword baseline). Only the rows the index was built
from, the training split, are ever candidates; a question's own document never is."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from hybridrag.numeric.rows import SolvedExample
from hybridrag.search.fts_query import fts_match_expression, query_terms

Encode = Callable[[list[str]], np.ndarray]  # texts -> unit vectors, one row each
Neighbours = Literal["semantic", "keyword"]


class ExampleIndex:
    """The training questions, searchable by meaning and by words."""

    def __init__(self, examples: Sequence[SolvedExample], encode: Encode) -> None:
        self.examples = list(examples)
        self._encode = encode
        self._vectors = encode([e.question for e in self.examples]) if self.examples else None
        self._keyword = sqlite3.connect(":memory:")
        self._keyword.execute("CREATE VIRTUAL TABLE questions USING fts5(question, "
                              "tokenize='porter unicode61 remove_diacritics 2')")
        self._keyword.executemany("INSERT INTO questions(rowid, question) VALUES (?, ?)",
                                  ((i, e.question) for i, e in enumerate(self.examples)))

    def nearest(self, questions: Sequence[str], doc_ids: Sequence[str | None], k: int,
                by: Neighbours) -> list[list[SolvedExample]]:
        """Each question's `k` nearest examples, best first, none from its own document."""
        if by == "semantic":
            orders = self._semantic_orders(list(questions))
        else:
            orders = [self._keyword_order(question) for question in questions]
        return [[self.examples[i] for i in order
                 if doc_id is None or self.examples[i].doc_id != doc_id][:k]
                for order, doc_id in zip(orders, doc_ids, strict=True)]

    def _semantic_orders(self, questions: list[str]) -> list[list[int]]:
        if self._vectors is None or not questions:
            return [[] for _ in questions]
        scores = self._encode(questions) @ self._vectors.T
        return [np.argsort(-row, kind="stable").tolist() for row in scores]

    def _keyword_order(self, question: str) -> list[int]:
        """Every example sharing a word with the question, by FTS5 bm25() (lower is better)."""
        terms = query_terms(question)
        if not terms:
            return []
        return [row for (row,) in self._keyword.execute(
            "SELECT rowid FROM questions WHERE questions MATCH ? ORDER BY bm25(questions), rowid",
            (fts_match_expression(terms),))]

    def close(self) -> None:
        self._keyword.close()
