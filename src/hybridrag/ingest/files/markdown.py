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
from hybridrag.records import SECTION_SEPARATOR

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
    its sections: (offset in the text where a heading starts, the path of headings down to it,
    "Install › From source")."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    blocks: list[str] = []
    current: list[str] = []
    headings: list[tuple[str, str]] = []  # (tag, text)
    sections: list[tuple[int, str]] = []  # (block index, path)
    path: list[tuple[int, str]] = []  # the open headings: (level, text)
    for i, token in enumerate(tokens):
        if token.type == "inline":
            current.append(_inline_text(token))
            if tokens[i - 1].type == "heading_open":
                text = current[-1].strip()
                headings.append((tokens[i - 1].tag, text))
                level = int(tokens[i - 1].tag[1:])
                path = [*(h for h in path if h[0] < level), (level, text)]
                sections.append((len(blocks), SECTION_SEPARATOR.join(t for _, t in path if t)))
        elif token.type in ("fence", "code_block"):
            blocks.append(token.content.rstrip())
        elif token.type in _BLOCK_ENDS and current:
            blocks.append(" ".join(current).strip() if token.type == "tr_close"
                          else "".join(current).strip())
            current = []
    title = min(headings, key=lambda h: h[0])[1] if headings else None
    kept = [(index, block) for index, block in enumerate(blocks) if block]
    offsets, offset = {}, 0
    for index, block in kept:
        offsets[index] = offset
        offset += len(block) + 2
    starts: dict[int, str] = {}  # a heading followed by nothing keeps the next one's start
    for index, heading_path in sections:
        start = next((offsets[i] for i, _ in kept if i >= index), None)
        if start is not None and heading_path:
            starts[start] = heading_path
    return "\n\n".join(b for _, b in kept), title or None, tuple(sorted(starts.items()))


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
