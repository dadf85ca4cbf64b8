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
from hybridrag.ingest.files.sections import Block, join_blocks
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


def render_text(source: str) -> tuple[str, str | None, tuple[tuple[int, str], ...]]:
    """The document's text, blocks separated by blank lines; its first heading (h1 first); and
    its sections (`join_blocks`)."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    blocks: list[Block] = []
    current: list[str] = []
    level: int | None = None  # the heading being read
    for i, token in enumerate(tokens):
        if token.type == "inline":
            current.append(_inline_text(token))
            if tokens[i - 1].type == "heading_open":
                level = int(tokens[i - 1].tag[1:])
        elif token.type in ("fence", "code_block"):
            blocks.append(Block(token.content.rstrip()))
        elif token.type in _BLOCK_ENDS and current:
            blocks.append(Block(" ".join(current).strip() if token.type == "tr_close"
                                else "".join(current).strip(), level))
            current, level = [], None
    return join_blocks(blocks)


def extract_markdown(data: bytes) -> Extracted:
    """Front matter keys: title, author(s), year or date, keywords or tags."""
    import frontmatter
    import yaml

    try:
        post = frontmatter.loads(decode(data))
    except yaml.YAMLError as error:
        raise ExtractionError("unreadable", f"bad YAML front matter ({error})") from error
    meta = post.metadata
    text, heading, sections = render_text(post.content)
    authors = meta.get("author", meta.get("authors"))
    if isinstance(authors, list):
        authors = "; ".join(str(a).strip() for a in authors if str(a).strip())
    return Extracted(
        text=require_text(text, "Markdown without text"),
        title=clean(meta.get("title")) or heading,
        author=clean(authors),
        year=year_of(meta.get("year", meta.get("date"))),
        keywords=split_keywords(meta.get("keywords", meta.get("tags"))),
        sections=sections,
    )
