"""A Markdown document's HTML twin: its file rendered to HTML by markdown-it (as a static site
generator would publish it) and read back by the HTML reader, for bench/markdown_sections.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hybridrag.ingest.files.html import extract_html
from hybridrag.ingest.files.text import decode
from hybridrag.records import Document


def render_html(markdown: str, title: str) -> bytes:
    """A page whose main content is `markdown` rendered (front matter left out)."""
    import frontmatter
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(frontmatter.loads(markdown).content)
    return (f"<html><head><title>{title}</title></head><body><article>{body}</article>"
            "</body></html>").encode()


def html_twin(document: Document, folder: Path) -> Document:
    """`document` (read from `folder`) with the text and sections its HTML rendering gives."""
    source = decode((folder / document.source_path).read_bytes())  # as the Markdown reader does
    extracted = extract_html(render_html(source, document.title))
    return dataclasses.replace(document, text=extracted.text, sections=extracted.sections)


def shared_heading_paths(markdown: Document, html: Document) -> tuple[int, int, int]:
    """(Markdown's section paths, HTML's, how many of Markdown's the HTML reading also has)."""
    ours = [path for _, path in markdown.sections]
    theirs = [path for _, path in html.sections]
    found = set(theirs)
    return len(ours), len(theirs), sum(path in found for path in ours)
