"""A folder of the user's files as documents: PDF, HTML, Markdown, Word and plain text.

Each file's text and metadata come from its format's extractor; a `<file>.meta.json` sidecar
overrides or adds metadata. Files that yield nothing (encrypted, unreadable, no text) go to the
row policy, so they stop the stage or are skipped and counted; unsupported types and duplicates
(the same text as an earlier file, in path order) are always skipped and counted.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm import tqdm

from hybridrag.errors import InputError
from hybridrag.ingest.fields import FieldError, parse_document
from hybridrag.ingest.files.docx import extract_docx
from hybridrag.ingest.files.extracted import Extracted, ExtractionError
from hybridrag.ingest.files.html import extract_html
from hybridrag.ingest.files.markdown import extract_markdown
from hybridrag.ingest.files.pdf import extract_pdf
from hybridrag.ingest.files.text import extract_text
from hybridrag.jsonl import RowPolicy
from hybridrag.records import Document

FILE_TYPES: dict[str, tuple[str, Callable[[bytes], Extracted]]] = {
    ".pdf": ("pdf", extract_pdf),
    ".html": ("html", extract_html),
    ".htm": ("html", extract_html),
    ".xhtml": ("html", extract_html),
    ".md": ("markdown", extract_markdown),
    ".markdown": ("markdown", extract_markdown),
    ".docx": ("docx", extract_docx),
    ".txt": ("text", extract_text),
    ".text": ("text", extract_text),
}
SIDECAR = ".meta.json"
SIDECAR_FIELDS = frozenset({"title", "author", "year", "keywords", "topic", "language"})


def matches(path: str, patterns: Sequence[str]) -> bool:
    """Shell patterns tried on the relative path and on the file name: `*.pdf` matches PDFs
    at any depth, `drafts/*` everything under drafts/."""
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def list_files(folder: Path, include: Sequence[str], exclude: Sequence[str]) -> list[str]:
    """Relative POSIX paths of the files to read, sorted; sidecars are metadata, not files."""
    if not folder.is_dir():
        raise InputError(folder, None, "not a folder (set ingest.path to a folder of documents)",
                         "missing file")
    paths = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return sorted(p for p in paths if not p.endswith(SIDECAR)
                  and matches(p, include) and not matches(p, exclude))


def content_hash(text: str) -> str:
    """sha256 of the text with whitespace runs made single spaces (layout does not count)."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def sidecar_metadata(folder: Path, path: str) -> dict[str, object]:
    sidecar = folder / (path + SIDECAR)
    if not sidecar.is_file():
        return {}
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(path + SIDECAR, None, f"not valid JSON ({error})", "bad metadata") from None
    if not isinstance(meta, dict):
        raise InputError(path + SIDECAR, None, "must hold a JSON object", "bad metadata")
    unknown = sorted(set(meta) - SIDECAR_FIELDS)
    if unknown:
        raise InputError(path + SIDECAR, None, f"unknown field(s) {unknown}; use "
                         f"{sorted(SIDECAR_FIELDS)}", "bad metadata")
    return meta


def file_document(folder: Path, path: str, file_type: str, extracted: Extracted) -> Document:
    """The document of one extracted file: its metadata, then the sidecar's on top."""
    modified = dt.datetime.fromtimestamp((folder / path).stat().st_mtime, dt.UTC)
    record: dict[str, object] = {
        "_id": path, "text": extracted.text,
        "title": extracted.title or Path(path).stem,
        "author": extracted.author, "year": extracted.year,
        "keywords": list(extracted.keywords) or None,
        "source_path": path, "file_type": file_type, "content_hash": content_hash(extracted.text),
        "modified": modified.isoformat(timespec="seconds"),
        "page_starts": list(extracted.page_starts) or None,
        "sections": [list(section) for section in extracted.sections] or None,
    }
    sidecar = sidecar_metadata(folder, path)
    try:
        return parse_document({**record, **sidecar})
    except FieldError as error:
        where = path + SIDECAR if error.field in sidecar else path
        raise InputError(where, None, str(error), "bad metadata") from None


def read_folder(folder: str | Path, include: Sequence[str], exclude: Sequence[str],
                policy: RowPolicy) -> list[Document]:
    """Documents from every matching file under `folder`, in path order."""
    root = Path(folder)
    documents: list[Document] = []
    first_with_text: dict[str, str] = {}
    for path in tqdm(list_files(root, include, exclude), desc="ingest files", unit="file",
                     disable=None):
        suffix = Path(path).suffix.lower()
        if suffix not in FILE_TYPES:
            policy.count(InputError(path, None, f"unsupported file type {suffix or '(none)'!r}",
                                    "unsupported type"))
            continue
        file_type, extract = FILE_TYPES[suffix]
        try:
            document = file_document(root, path, file_type, extract((root / path).read_bytes()))
        except ExtractionError as error:
            policy.reject(InputError(path, None, str(error), error.kind))
            continue
        except InputError as error:
            policy.reject(error)
            continue
        if document.content_hash in first_with_text:
            policy.count(InputError(path, None, "same text as "
                                    f"{first_with_text[document.content_hash]}", "duplicate"))
            continue
        first_with_text[document.content_hash] = path
        documents.append(document)
    return documents
