"""A document read as blocks (paragraphs, list items, code, table rows, headings): its text and
the sections its headings start. Markdown and HTML are read this way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hybridrag.records import SECTION_SEPARATOR


@dataclass(frozen=True)
class Block:
    text: str
    level: int | None = None  # a heading's level (1 for h1); None for any other block


def join_blocks(blocks: Sequence[Block]) -> tuple[str, str | None, tuple[tuple[int, str], ...]]:
    """The text, non-empty blocks separated by blank lines; the first of the highest headings;
    the sections: (offset in the text where a heading starts, the path of headings down to it,
    "Install › From source"). A heading without text starts its section at the next block."""
    kept: list[str] = []
    offset = 0
    starts: dict[int, str] = {}
    path: list[tuple[int, str]] = []  # the open headings: (level, text)
    pending: str | None = None  # the path of a heading whose section has not started yet
    headings: list[Block] = []
    for block in blocks:
        if block.level is not None:
            headings.append(block)
            path = [*(h for h in path if h[0] < block.level), (block.level, block.text)]
            pending = SECTION_SEPARATOR.join(text for _, text in path if text) or pending
        if block.text:
            if pending:
                starts[offset] = pending
                pending = None
            kept.append(block.text)
            offset += len(block.text) + 2
    title = min(headings, key=lambda h: h.level or 0).text if headings else None
    return "\n\n".join(kept), title or None, tuple(sorted(starts.items()))
