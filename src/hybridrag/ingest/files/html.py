"""HTML: the main content of a saved web page and its meta tags, by trafilatura; its `<h1>`-`<h6>`
headings start sections, as Markdown's do."""

from __future__ import annotations

import re
from typing import Any

from hybridrag.ingest.files.extracted import (
    Extracted,
    ExtractionError,
    clean,
    require_text,
    split_keywords,
    year_of,
)
from hybridrag.ingest.files.sections import Block, join_blocks

_HEADING = re.compile(r"h([1-6])")


def content_blocks(body: Any) -> list[Block]:
    """trafilatura's main content (its XML: `head` for headings, `p`, `list`, `table`, `code`,
    `quote`), one block per element, each in trafilatura's own plain text. A `head` without a
    level (a `<summary>`, a `<dt>`) is text, not a section."""
    from trafilatura.xml import xmltotxt

    blocks = []
    for element in body:
        level = _HEADING.fullmatch(element.get("rend") or "") if element.tag == "head" else None
        blocks.append(Block(xmltotxt(element, include_formatting=False).strip(),
                            int(level.group(1)) if level else None))
    return blocks


def extract_html(data: bytes) -> Extracted:
    """Main text without navigation and footers; title, author, date and keywords from meta
    (the first highest heading when there is no title)."""
    import trafilatura

    try:
        document = trafilatura.bare_extraction(data, with_metadata=True, favor_recall=True,
                                               include_tables=True, include_comments=False)
    except Exception as error:  # lxml and its decoders fail on some malformed bytes
        raise ExtractionError("unreadable", f"unreadable HTML ({error})") from error
    if document is None:
        raise ExtractionError("no text", "no main text found in the HTML")
    text, heading, sections = join_blocks(content_blocks(document.body)
                                          if document.body is not None
                                          else [Block(document.text or "")])
    keywords = tuple(k for tag in document.tags or () for k in split_keywords(tag))
    return Extracted(text=require_text(text, "HTML without main text"),
                     title=clean(document.title) or heading, author=clean(document.author),
                     year=year_of(document.date), keywords=keywords, sections=sections)
