"""Split document text into overlapping word windows that keep their character offsets."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict

from hybridrag.errors import InputError
from hybridrag.jsonl import read_jsonl, write_jsonl
from hybridrag.records import Chunk, Document

_WORD = re.compile(r"\S+")


def word_windows(text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    """Character spans of windows of `size` words, each sharing `overlap` words with the last.

    Windows advance by size - overlap words; the last one ends at the final word, so no text
    is lost and no window is a mere tail of its predecessor.
    """
    if size < 1 or not 0 <= overlap < size:
        raise ValueError(f"need size >= 1 and 0 <= overlap < size, got size={size}, overlap={overlap}")
    words = [match.span() for match in _WORD.finditer(text)]
    if not words:
        return []
    step = size - overlap
    spans = []
    start = 0
    while True:
        end = min(start + size, len(words))
        spans.append((words[start][0], words[end - 1][1]))
        if end == len(words):
            return spans
        start += step


def document_windows(document: Document, size: int, overlap: int
                     ) -> Iterator[tuple[int, int, int | None]]:
    """(start, end, page) of a document's windows; a document with pages is windowed page by
    page, so that every chunk lies on one page and can be cited by it."""
    if not document.page_starts:
        for start, end in word_windows(document.text, size, overlap):
            yield start, end, None
        return
    bounds = [*document.page_starts, len(document.text)]
    for page, (first, last) in enumerate(itertools.pairwise(bounds), start=1):
        for start, end in word_windows(document.text[first:last], size, overlap):
            yield first + start, first + end, page


def chunk_documents(documents: Iterable[Document], size: int, overlap: int) -> Iterator[Chunk]:
    """Chunks of every document, numbered 0, 1, 2, ... in document order."""
    chunk_id = 0
    for document in documents:
        for position, (start, end, page) in enumerate(document_windows(document, size, overlap)):
            yield Chunk(chunk_id=chunk_id, doc_id=document.doc_id, position=position,
                        start=start, end=end, text=document.text[start:end], page=page)
            chunk_id += 1


def write_chunks(path: str | os.PathLike[str], chunks: Iterable[Chunk]) -> int:
    return write_jsonl(path, (asdict(chunk) for chunk in chunks))


def read_chunks(path: str | os.PathLike[str]) -> list[Chunk]:
    """Chunks written by `write_chunks` (a malformed file raises, naming the line)."""
    chunks = []
    for line, row in read_jsonl(path):
        try:
            chunks.append(Chunk(**row))
        except TypeError as error:
            raise InputError(path, line, f"not a chunk row: {error}", "bad chunk row") from error
    return chunks
