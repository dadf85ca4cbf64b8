"""PDF: the text layer page by page (pypdf), and the document information dictionary."""

from __future__ import annotations

import io
import logging

from hybridrag.ingest.files.extracted import (
    Extracted,
    ExtractionError,
    clean,
    require_text,
    split_keywords,
    year_of,
)

PAGE_BREAK = "\n\n"


def extract_pdf(data: bytes) -> Extracted:
    """Pages joined by blank lines, each page's start kept; year from the creation date."""
    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns about every repaired file
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("encrypted", "encrypted PDF (needs a password)")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        info = reader.metadata
    except ExtractionError:
        raise
    except Exception as error:  # pypdf raises many kinds on damaged files
        raise ExtractionError("unreadable", f"unreadable PDF ({error})") from error
    starts, offset = [], 0
    for text in pages:
        starts.append(offset)
        offset += len(text) + len(PAGE_BREAK)
    text = require_text(PAGE_BREAK.join(pages), f"{len(pages)} page(s) without a text layer: "
                        "empty or scanned images")
    if info is None:
        return Extracted(text=text, page_starts=tuple(starts))
    try:
        created = info.creation_date
    except (ValueError, TypeError):  # a malformed date string
        created = info.get("/CreationDate")
    return Extracted(text=text, title=clean(info.title), author=clean(info.author),
                     year=year_of(created), keywords=split_keywords(info.get("/Keywords")),
                     page_starts=tuple(starts))
