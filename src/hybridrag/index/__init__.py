"""The search index: a folder holding corpus.sqlite, vectors.faiss and manifest.json."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from hybridrag.atomic import atomic_directory, recover_directory
from hybridrag.config import BuildDbParams
from hybridrag.embedding_store import EmbeddingInfo
from hybridrag.index.database import create_database
from hybridrag.index.vectors import build_vector_index, save_vector_index
from hybridrag.records import Chunk, Document

FORMAT_VERSION = 1
DATABASE = "corpus.sqlite"
VECTORS = "vectors.faiss"
MANIFEST = "manifest.json"


def build_index(folder: str | os.PathLike[str], documents: Sequence[Document],
                chunks: Sequence[Chunk], vectors: np.ndarray, chunk_ids: np.ndarray,
                embedding: EmbeddingInfo, params: BuildDbParams) -> dict[str, Any]:
    """Build the whole index in a staging folder and swap it in; a crash leaves the old one."""
    expected = np.fromiter((c.chunk_id for c in chunks), dtype=np.int64, count=len(chunks))
    if not np.array_equal(np.sort(expected), np.sort(chunk_ids)):
        raise ValueError("the embeddings do not match the chunks (different chunk ids); "
                         "re-run the embed stage")
    manifest = {
        "format_version": FORMAT_VERSION,
        "documents": len(documents),
        "chunks": len(chunks),
        "embedding": asdict(embedding),
        "faiss_index": params.faiss_index,
        "fts_tokenizer": params.fts_tokenizer,
    }
    with atomic_directory(folder) as staging:
        create_database(staging / DATABASE, documents, chunks, params.fts_tokenizer)
        index = build_vector_index(vectors, chunk_ids, params.faiss_index, params.hnsw_m,
                                   params.hnsw_ef_construction)
        save_vector_index(index, staging / VECTORS)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


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
