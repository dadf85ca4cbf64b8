"""HTML: the main content of a saved web page and its meta tags, by trafilatura."""

from __future__ import annotations

from hybridrag.ingest.files.extracted import (
    Extracted,
    ExtractionError,
    clean,
    require_text,
    split_keywords,
    year_of,
)


def extract_html(data: bytes) -> Extracted:
    """Main text without navigation and footers; title, author, date and keywords from meta."""
    import trafilatura

    try:
        document = trafilatura.bare_extraction(data, with_metadata=True, favor_recall=True,
                                               include_tables=True, include_comments=False)
    except Exception as error:  # lxml and its decoders fail on some malformed bytes
        raise ExtractionError("unreadable", f"unreadable HTML ({error})") from error
    if document is None:
        raise ExtractionError("no text", "no main text found in the HTML")
    keywords = tuple(k for tag in document.tags or () for k in split_keywords(tag))
    return Extracted(text=require_text(document.text or "", "HTML without main text"),
                     title=clean(document.title), author=clean(document.author),
                     year=year_of(document.date), keywords=keywords)
