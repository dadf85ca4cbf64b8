"""Validation of one raw record into a Document or Query, naming the offending field."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from hybridrag.records import Document, Query

METADATA_FIELDS = ("author", "year", "keywords", "topic", "language", "source_path", "file_type",
                   "content_hash", "modified", "page_starts", "sections")
FILE_FIELDS = ("source_path", "file_type", "content_hash", "modified")  # optional strings


class FieldError(ValueError):
    """A record's field is missing or has the wrong type."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"field {field!r} {message}")


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def parse_id(record: dict[str, Any]) -> str:
    """The record's id from `_id` (BEIR) or `id`; ints are accepted and turned into strings."""
    key = "_id" if "_id" in record else "id"
    if key not in record:
        raise FieldError("_id", "is missing (give each row an '_id' or 'id')")
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise FieldError(key, f"must be a string or integer, got {_describe(value)}")
    text = str(value)
    if not text.strip():
        raise FieldError(key, "is empty")
    if any(c in text for c in "\t\r\n"):
        raise FieldError(key, "must not contain tabs or line breaks")
    return text


def _text(record: dict[str, Any], name: str, required: bool) -> str:
    value = record.get(name)
    if value is None:
        if required:
            raise FieldError(name, "is missing")
        return ""
    if not isinstance(value, str):
        raise FieldError(name, f"must be a string, got {_describe(value)}")
    if required and not value.strip():
        raise FieldError(name, "is empty")
    return value.strip()


def _optional_string(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldError(name, f"must be a string, got {_describe(value)}")
    return value.strip() or None


def _author(value: Any) -> str | None:
    """One author string, or a list of names joined with '; '."""
    if isinstance(value, list):
        if not all(isinstance(name, str) for name in value):
            raise FieldError("author", f"must be a string or a list of strings, got {_describe(value)}")
        return "; ".join(name.strip() for name in value if name.strip()) or None
    if value is not None and not isinstance(value, str):
        raise FieldError("author", f"must be a string or a list of strings, got {_describe(value)}")
    return _optional_string(value, "author")


def _year(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError("year", f"must be an integer, got {_describe(value)}")
    if not -9999 <= value <= 9999:
        raise FieldError("year", f"must be between -9999 and 9999, got {value}")
    return value


def _keywords(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise FieldError("keywords", f"must be a list of strings, got {_describe(value)}")
    unique: dict[str, str] = {}  # case-folded -> first spelling seen
    for keyword in value:
        if keyword.strip():
            unique.setdefault(keyword.strip().casefold(), keyword.strip())
    return tuple(unique.values())


def _language(value: Any) -> str | None:
    code = _optional_string(value, "language")
    if code is not None and not (code.isascii() and code.isalpha() and 2 <= len(code) <= 3):
        raise FieldError("language", f"must be an ISO 639 code such as 'en', got {code!r}")
    return code.lower() if code else None


def _page_starts(value: Any) -> tuple[int, ...]:
    """Offsets where pages begin: 0 first, then strictly increasing integers."""
    if value is None:
        return ()
    if (not isinstance(value, list) or not all(type(v) is int for v in value)
            or (value and value[0] != 0) or any(a >= b for a, b in pairwise(value))):
        raise FieldError("page_starts", "must be a list of increasing character offsets starting "
                         f"at 0, got {_describe(value)}")
    return tuple(value)


def _sections(value: Any) -> tuple[tuple[int, str], ...]:
    """Where sections begin: [offset, heading path] pairs, offsets strictly increasing."""
    if value is None:
        return ()
    if (not isinstance(value, list)
            or not all(isinstance(v, list) and len(v) == 2 and type(v[0]) is int and v[0] >= 0
                       and isinstance(v[1], str) and v[1].strip() for v in value)
            or any(a[0] >= b[0] for a, b in pairwise(value))):
        raise FieldError("sections", "must be a list of [character offset, heading path] pairs, "
                         f"offsets increasing, got {_describe(value)}")
    return tuple((offset, path.strip()) for offset, path in value)


def parse_document(record: dict[str, Any]) -> Document:
    """Accept BEIR rows (metadata under "metadata") and flat rows (metadata at the top level)."""
    nested = record.get("metadata") or {}
    if not isinstance(nested, dict):
        raise FieldError("metadata", f"must be an object, got {_describe(nested)}")
    meta = {**nested, **{key: record[key] for key in METADATA_FIELDS if key in record}}
    return Document(
        doc_id=parse_id(record),
        title=_text(record, "title", required=False),
        text=_text(record, "text", required=True),
        author=_author(meta.get("author")),
        year=_year(meta.get("year")),
        keywords=_keywords(meta.get("keywords")),
        topic=_optional_string(meta.get("topic"), "topic"),
        language=_language(meta.get("language")),
        page_starts=_page_starts(meta.get("page_starts")),
        sections=_sections(meta.get("sections")),
        **{name: _optional_string(meta.get(name), name) for name in FILE_FIELDS},
    )


def parse_query(record: dict[str, Any]) -> Query:
    return Query(query_id=parse_id(record), text=_text(record, "text", required=True))


def document_to_beir(document: Document) -> dict[str, Any]:
    """The BEIR corpus row for a document, metadata under "metadata" (absent values left out)."""
    metadata: dict[str, Any] = {}
    if document.author is not None:
        metadata["author"] = document.author
    if document.year is not None:
        metadata["year"] = document.year
    if document.keywords:
        metadata["keywords"] = list(document.keywords)
    if document.topic is not None:
        metadata["topic"] = document.topic
    if document.language is not None:
        metadata["language"] = document.language
    for name in FILE_FIELDS:
        if getattr(document, name) is not None:
            metadata[name] = getattr(document, name)
    if document.page_starts:
        metadata["page_starts"] = list(document.page_starts)
    if document.sections:
        metadata["sections"] = [list(section) for section in document.sections]
    return {"_id": document.doc_id, "title": document.title, "text": document.text,
            "metadata": metadata}
