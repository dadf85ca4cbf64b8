"""Word (.docx): paragraphs and tables in order (python-docx), and the core properties."""

from __future__ import annotations

import io

from hybridrag.ingest.files.extracted import (
    Extracted,
    ExtractionError,
    clean,
    require_text,
    split_keywords,
)


def extract_docx(data: bytes) -> Extracted:
    """Title from the properties, else the first Title or Heading paragraph."""
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as error:  # not a zip, not a Word package, a broken part
        raise ExtractionError("unreadable", f"unreadable Word document ({error})") from error
    blocks: list[str] = []
    heading = None
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.extend(" | ".join(c.text.strip() for c in row.cells) for row in item.rows)
            continue
        text = item.text.strip()
        if not text:
            continue
        blocks.append(text)
        style = item.style.name if item.style is not None else ""
        if heading is None and (style == "Title" or style.startswith("Heading")):
            heading = text
    properties = document.core_properties
    created = properties.created
    return Extracted(
        text=require_text("\n\n".join(blocks), "Word document without text"),
        title=clean(properties.title) or heading,
        author=clean(properties.author),
        year=created.year if created else None,
        keywords=split_keywords(properties.keywords),
    )
