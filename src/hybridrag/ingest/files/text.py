"""Plain text in any encoding: UTF-8 when it decodes, else what charset-normalizer detects."""

from __future__ import annotations

from hybridrag.ingest.files.extracted import Extracted, ExtractionError, require_text


def decode(data: bytes) -> str:
    """Text from bytes: UTF-8 (with or without BOM) first, then the detected encoding."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ExtractionError("unreadable", "not text in any known encoding (binary?)")
    return str(best)


def extract_text(data: bytes) -> Extracted:
    return Extracted(text=require_text(decode(data), "empty file"))
