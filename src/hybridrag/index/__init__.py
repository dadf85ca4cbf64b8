"""The search index: a folder holding corpus.sqlite, vectors.faiss and manifest.json."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from hybridrag.atomic import atomic_directory, recover_directory
from hybridrag.config import BuildDbParams
from hybridrag.embedding_store import EmbeddingInfo, EmbeddingSet
from hybridrag.index.bm25 import term_counts
from hybridrag.index.database import create_database, fts_tokenizer_for
from hybridrag.index.vectors import build_vector_index, save_vector_index
from hybridrag.language import main_language
from hybridrag.records import Chunk, Document

FORMAT_VERSION = 2  # 2: several named embedding sets (base, finetuned, ...)
DATABASE = "corpus.sqlite"
MANIFEST = "manifest.json"
BM25_COUNTS = "bm25"  # FTS5's term counts as arrays: BM25 without FTS5 (hybridrag.index.bm25)
ENCODERS = "encoders"  # local (fine-tuned) query encoders travel inside the index


EMBEDDING_FIELDS = frozenset(f.name for f in fields(EmbeddingInfo))


def vectors_file(name: str) -> str:
    return f"vectors-{name}.faiss"


def build_index(folder: str | os.PathLike[str], documents: Sequence[Document],
                chunks: Sequence[Chunk], embeddings: Mapping[str, EmbeddingSet],
                params: BuildDbParams) -> dict[str, Any]:
    """Build the whole index in a staging folder and swap it in; a crash leaves the old one.

    Each named embedding set gets its own FAISS index over the same chunk ids.
    """
    if not embeddings:
        raise ValueError("an index needs at least one embedding set")
    expected = np.sort(np.fromiter((c.chunk_id for c in chunks), dtype=np.int64, count=len(chunks)))
    for name, embedding in embeddings.items():
        if not name.isidentifier():
            raise ValueError(f"embedding set name {name!r} must be a simple identifier")
        if not np.array_equal(expected, np.sort(embedding.chunk_ids)):
            raise ValueError(f"the {name!r} embeddings do not match the chunks (different chunk "
                             "ids); re-run the embed stage")
    language = main_language(documents)
    tokenizer = fts_tokenizer_for(params.fts_tokenizer, language)
    manifest = {
        "format_version": FORMAT_VERSION,
        "documents": len(documents),
        "chunks": len(chunks),
        "embeddings": {name: {**asdict(e.info), "file": vectors_file(name)}
                       for name, e in embeddings.items()},
        "faiss_index": params.faiss_index,
        "fts_tokenizer": tokenizer,
        "main_language": language,
    }
    with atomic_directory(folder) as staging:
        create_database(staging / DATABASE, documents, chunks, tokenizer)
        with closing(sqlite3.connect(staging / DATABASE)) as connection:
            term_counts(connection, tokenizer).save(staging / BM25_COUNTS)
        for name, embedding in embeddings.items():
            manifest["embeddings"][name].update(bundle_encoder(embedding.info.model, staging, name))
            index = build_vector_index(embedding.vectors, embedding.chunk_ids, params.faiss_index,
                                       params.hnsw_m, params.hnsw_ef_construction,
                                       params.ivf_lists)
            save_vector_index(index, staging / vectors_file(name))
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def bundle_encoder(model: str, staging: Path, name: str) -> dict[str, str]:
    """Copy a model that is a local folder (a fine-tuned encoder) into the index, so that any
    revision's index can encode queries without that revision's workspace; package models
    (installed by requirements) are referenced by name."""
    source = Path(model)
    if not source.is_dir():
        return {}
    target = staging / ENCODERS / name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("checkpoint-*"))
    digest = hashlib.sha256()
    for path in sorted(p for p in target.rglob("*") if p.is_file()):
        digest.update(path.relative_to(target).as_posix().encode())
        digest.update(path.read_bytes())
    return {"bundled": f"{ENCODERS}/{name}", "bundled_sha256": digest.hexdigest()}


def embedding_info(manifest: dict[str, Any], name: str,
                   folder: str | os.PathLike[str] | None = None) -> EmbeddingInfo:
    """The named embedding set of an index, or an error listing the ones it has. Given the
    index `folder`, a bundled encoder's model path points into it."""
    sets = manifest["embeddings"]
    if name not in sets:
        raise ValueError(f"the index has no {name!r} embeddings; it has {sorted(sets)} "
                         "(set retrieval.embedding)")
    entry = sets[name]
    info = EmbeddingInfo(**{k: v for k, v in entry.items() if k in EMBEDDING_FIELDS})
    if folder is not None and "bundled" in entry:
        info = replace(info, model=str(Path(folder) / entry["bundled"]))
    return info


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    root = Path(folder)
    recover_directory(root)
    path = root / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no index at {root} ({MANIFEST} missing); run `dvc repro build_db`")
    manifest = json.loads(path.read_text())
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: index format {manifest.get('format_version')} is not "
                         f"{FORMAT_VERSION}; rebuild it with this version")
    return manifest
