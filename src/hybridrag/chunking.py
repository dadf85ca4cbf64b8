"""Split document text into overlapping word windows that keep their character offsets."""

from __future__ import annotations

import bisect
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
                     ) -> Iterator[tuple[int, int, int | None, str | None]]:
    """(start, end, page, section) of a document's windows. A document with pages or sections
    is windowed piece by piece (a piece ends where a page or a section does), so that every
    chunk lies on one page and in one section and can be cited by them."""
    length = len(document.text)
    section_starts = [start for start, _ in document.sections]
    bounds = sorted({b for b in (0, *document.page_starts, *section_starts) if b < length})
    for first, last in itertools.pairwise([*bounds, length]):
        page = bisect.bisect_right(document.page_starts, first) or None
        in_section = bisect.bisect_right(section_starts, first)
        section = document.sections[in_section - 1][1] if in_section else None
        for start, end in word_windows(document.text[first:last], size, overlap):
            yield first + start, first + end, page, section


def chunk_documents(documents: Iterable[Document], size: int, overlap: int) -> Iterator[Chunk]:
    """Chunks of every document, numbered 0, 1, 2, ... in document order."""
    chunk_id = 0
    for document in documents:
        for position, (start, end, page, section) in enumerate(
                document_windows(document, size, overlap)):
            yield Chunk(chunk_id=chunk_id, doc_id=document.doc_id, position=position,
                        start=start, end=end, text=document.text[start:end], page=page,
                        section=section)
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
