"""Snippets of result chunks with the query's words marked, via FTS5's own tokenizer and stemmer."""

from __future__ import annotations

import html
import sqlite3

from hybridrag.index.database import FTS_TABLE
from hybridrag.search.fts_query import fts_match_expression

OPEN, CLOSE = "\x02", "\x03"  # markers FTS5 puts around matches; never in escaped output


def _to_html(marked: str) -> str:
    return html.escape(marked, quote=False).replace(OPEN, "<mark>").replace(CLOSE, "</mark>")


def plain_snippet(text: str, words: int) -> str:
    tokens = text.split()
    return " ".join(tokens[:words]) + (" …" if len(tokens) > words else "")


def highlighted_snippets(connection: sqlite3.Connection, chunk_ids: list[int], terms: list[str],
                         words: int = 40) -> dict[int, str]:
    """HTML-escaped snippets (about `words` words) with matches in <mark>, per chunk id.

    Chunks without a match of `terms` (found by the dense retriever alone) get their opening
    words, unmarked.
    """
    snippets: dict[int, str] = {}
    if chunk_ids and terms:
        marks = ",".join("?" * len(chunk_ids))
        rows = connection.execute(
            f"SELECT rowid, snippet({FTS_TABLE}, 1, ?, ?, '…', ?) FROM {FTS_TABLE} "
            f"WHERE {FTS_TABLE} MATCH ? AND rowid IN ({marks})",
            [OPEN, CLOSE, min(words, 64), fts_match_expression(terms), *chunk_ids])
        snippets = {rowid: _to_html(text) for rowid, text in rows if OPEN in text}
    missing = [c for c in chunk_ids if c not in snippets]
    if missing:
        marks = ",".join("?" * len(missing))
        for chunk_id, text in connection.execute(
                f"SELECT chunk_id, text FROM chunks WHERE chunk_id IN ({marks})", missing):
            snippets[chunk_id] = html.escape(plain_snippet(text, words), quote=False)
    return snippets
