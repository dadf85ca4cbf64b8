"""Metadata filters: parsed from `field=value` strings, applied as SQL inside both retrievers."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from hybridrag.errors import FilterError

FILTER_FIELDS = ("author", "year", "topic", "keyword", "language", "file_type")
_YEAR_RANGE = re.compile(r"^\s*(-?\d{1,4})?\s*(\.\.)?\s*(-?\d{1,4})?\s*$")


@dataclass(frozen=True)
class Filters:
    """All given conditions must hold. Documents without a year never match a year range."""

    author: str | None = None  # case-insensitive substring of the author field
    year_min: int | None = None  # inclusive
    year_max: int | None = None  # inclusive
    topic: str | None = None  # case-insensitive exact match
    keywords: tuple[str, ...] = ()  # each must be among the document's keywords (any case)
    language: str | None = None  # ISO 639-1 code, any case
    file_type: str | None = None  # pdf | html | markdown | docx | text, any case

    def __post_init__(self) -> None:
        if self.year_min is not None and self.year_max is not None and self.year_min > self.year_max:
            raise FilterError(f"year range {self.year_min}..{self.year_max} is empty "
                              "(start is after end)")

    @property
    def active(self) -> bool:
        return any((self.author, self.year_min is not None, self.year_max is not None,
                    self.topic, self.keywords, self.language, self.file_type))


def parse_year_range(text: str) -> tuple[int | None, int | None]:
    """'1999' -> (1999, 1999); '1990..2000', '1990..', '..2000' -> open or closed ranges."""
    match = _YEAR_RANGE.match(text)
    if not match or not (match.group(1) or match.group(3)):
        raise FilterError(f"year must look like 1999, 1990..2000, 1990.. or ..2000; got {text!r}")
    low, dots, high = match.groups()
    if not dots:
        if low and high:
            raise FilterError(f"year must look like 1999, 1990..2000, 1990.. or ..2000; got {text!r}")
        year = int(low or high)
        return year, year
    return (int(low) if low else None), (int(high) if high else None)


def parse_filters(specs: Iterable[str]) -> Filters:
    """Filters from `field=value` strings, e.g. ["author=Curie", "year=1900..1950", "keyword=physics",
    "language=fr", "file_type=pdf"]."""
    values: dict[str, object] = {}
    keywords: list[str] = []
    for spec in specs:
        name, sep, value = spec.partition("=")
        name, value = name.strip().lower(), value.strip()
        if not sep or not name:
            raise FilterError(f"filter {spec!r} must look like field=value, with field one of "
                              f"{', '.join(FILTER_FIELDS)}")
        if name not in FILTER_FIELDS:
            raise FilterError(f"unknown filter field {name!r}; use one of {', '.join(FILTER_FIELDS)}")
        if not value:
            raise FilterError(f"filter {name!r} has an empty value")
        if name == "keyword":
            keywords.append(value)
        elif name in values:
            raise FilterError(f"filter {name!r} given twice")
        elif name == "year":
            values["year_min"], values["year_max"] = parse_year_range(value)
        else:
            values[name] = value
    return Filters(keywords=tuple(keywords), **values)  # type: ignore[arg-type]


def filter_sql(filters: Filters, alias: str = "d") -> tuple[str, list[object]]:
    """A WHERE condition on the documents table aliased `alias` (TRUE when no filter is set)."""
    conditions: list[str] = []
    params: list[object] = []
    if filters.author:
        escaped = filters.author.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(f"{alias}.author LIKE ? ESCAPE '\\'")
        params.append(f"%{escaped}%")
    if filters.year_min is not None:
        conditions.append(f"{alias}.year >= ?")
        params.append(filters.year_min)
    if filters.year_max is not None:
        conditions.append(f"{alias}.year <= ?")
        params.append(filters.year_max)
    for column in ("topic", "language", "file_type"):
        if value := getattr(filters, column):
            conditions.append(f"{alias}.{column} = ? COLLATE NOCASE")
            params.append(value)
    for keyword in filters.keywords:
        conditions.append(f"EXISTS (SELECT 1 FROM document_keywords k "
                          f"WHERE k.doc_id = {alias}.doc_id AND k.keyword = ?)")
        params.append(keyword)
    return (" AND ".join(conditions) or "1"), params


def allowed_chunk_ids(connection: sqlite3.Connection, filters: Filters) -> np.ndarray:
    """The ids of the chunks whose documents pass `filters`, in an index's SQLite database."""
    condition, params = filter_sql(filters)
    rows = connection.execute(f"SELECT c.chunk_id FROM chunks c JOIN documents d ON d.doc_id = "
                              f"c.doc_id WHERE {condition}", params).fetchall()
    return np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
