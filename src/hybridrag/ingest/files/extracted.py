"""What an extractor gets out of one file: text (with page offsets) and the metadata it holds."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass


class ExtractionError(Exception):
    """A file that yields no document; `kind` names why ("encrypted", "unreadable", "no text")."""

    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None = None
    author: str | None = None
    year: int | None = None
    keywords: tuple[str, ...] = ()
    page_starts: tuple[int, ...] = ()  # where pages 1, 2, ... begin in `text` (PDF only)
    sections: tuple[tuple[int, str], ...] = ()  # (offset in `text`, heading path) (Markdown, HTML)


_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def year_of(value: object) -> int | None:
    """The year of a date, a datetime, an int, or the first four-digit number of a string."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.year
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and (match := _YEAR.search(value)):
        return int(match.group(1))
    return None


def split_keywords(value: object) -> tuple[str, ...]:
    """Keywords from a list, or from a string separated by commas or semicolons."""
    items = value if isinstance(value, (list, tuple)) else re.split(r"[,;]", value or "") \
        if isinstance(value, str) else []
    return tuple(str(item).strip() for item in items if str(item).strip())


def clean(value: object) -> str | None:
    """A metadata string stripped, or None when empty or not a string."""
    return value.strip() or None if isinstance(value, str) else None


def require_text(text: str, what: str) -> str:
    if not text.strip():
        raise ExtractionError("no text", f"no text found ({what})")
    return text
