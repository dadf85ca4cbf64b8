"""Markdown: YAML front matter (python-frontmatter) and the rendered text (markdown-it-py)."""

from __future__ import annotations

from typing import Any

from hybridrag.ingest.files.extracted import (
    Extracted,
    ExtractionError,
    clean,
    require_text,
    split_keywords,
    year_of,
)
from hybridrag.ingest.files.text import decode

_BLOCK_ENDS = {"paragraph_close", "heading_close", "list_item_close", "blockquote_close",
               "tr_close"}


def _inline_text(token: Any) -> str:
    """Words of an inline token as a reader sees them: no markup, links as their text."""
    parts = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "image":
            parts.append(_inline_text(child))
    return "".join(parts)


def render_text(source: str) -> tuple[str, str | None]:
    """The document's text, blocks separated by blank lines, and its first heading (h1 first)."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    blocks: list[str] = []
    current: list[str] = []
    headings: list[tuple[str, str]] = []  # (tag, text)
    for i, token in enumerate(tokens):
        if token.type == "inline":
            current.append(_inline_text(token))
            if tokens[i - 1].type == "heading_open":
                headings.append((tokens[i - 1].tag, current[-1].strip()))
        elif token.type in ("fence", "code_block"):
            blocks.append(token.content.rstrip())
        elif token.type in _BLOCK_ENDS and current:
            blocks.append(" ".join(current).strip() if token.type == "tr_close"
                          else "".join(current).strip())
            current = []
    title = min(headings, key=lambda h: h[0])[1] if headings else None
    return "\n\n".join(b for b in blocks if b), title or None


def extract_markdown(data: bytes) -> Extracted:
    """Front matter keys: title, author(s), year or date, keywords or tags."""
    import frontmatter
    import yaml

    try:
        post = frontmatter.loads(decode(data))
    except yaml.YAMLError as error:
        raise ExtractionError("unreadable", f"bad YAML front matter ({error})") from error
    meta = post.metadata
    text, heading = render_text(post.content)
    authors = meta.get("author", meta.get("authors"))
    if isinstance(authors, list):
        authors = "; ".join(str(a).strip() for a in authors if str(a).strip())
    return Extracted(
        text=require_text(text, "Markdown without text"),
        title=clean(meta.get("title")) or heading,
        author=clean(authors),
        year=year_of(meta.get("year", meta.get("date"))),
        keywords=split_keywords(meta.get("keywords", meta.get("tags"))),
    )
