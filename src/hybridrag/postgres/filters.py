"""Metadata filters as a PostgreSQL condition on the documents table, meaning what
hybridrag.search.filters.filter_sql means in SQLite (case-insensitive author substring, topic,
language, file type and keywords; an inclusive year range)."""

from __future__ import annotations

from hybridrag.search.filters import Filters


def filter_condition(filters: Filters, alias: str = "d") -> tuple[str, list[object]]:
    """(condition, parameters) with %s placeholders; TRUE when no filter is set."""
    conditions: list[str] = []
    params: list[object] = []
    if filters.author:
        escaped = filters.author.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(f"{alias}.author ILIKE %s")
        params.append(f"%{escaped}%")
    if filters.year_min is not None:
        conditions.append(f"{alias}.year >= %s")
        params.append(filters.year_min)
    if filters.year_max is not None:
        conditions.append(f"{alias}.year <= %s")
        params.append(filters.year_max)
    for column in ("topic", "language", "file_type"):
        if value := getattr(filters, column):
            conditions.append(f"lower({alias}.{column}) = lower(%s)")
            params.append(value)
    for keyword in filters.keywords:
        conditions.append(f"EXISTS (SELECT 1 FROM unnest({alias}.keywords) k "
                          "WHERE lower(k) = lower(%s))")
        params.append(keyword)
    return (" AND ".join(conditions) or "TRUE"), params
