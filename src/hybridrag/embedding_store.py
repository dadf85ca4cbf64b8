"""The embed stage's output folder: vectors.npy, chunk_ids.npy (row i <-> chunk id) and info.json."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hybridrag.atomic import atomic_directory


@dataclass(frozen=True)
class EmbeddingInfo:
    """How the vectors were made; queries must be encoded the same way."""

    model: str
    dimension: int
    include_title: bool
    max_seq_length: int
    normalized: bool = True


def save_embeddings(folder: str | os.PathLike[str], vectors: np.ndarray, chunk_ids: np.ndarray,
                    info: EmbeddingInfo) -> None:
    if len(vectors) != len(chunk_ids):
        raise ValueError(f"{len(vectors)} vectors for {len(chunk_ids)} chunk ids")
    with atomic_directory(folder) as staging:
        np.save(staging / "vectors.npy", vectors.astype(np.float32, copy=False))
        np.save(staging / "chunk_ids.npy", chunk_ids.astype(np.int64, copy=False))
        (staging / "info.json").write_text(json.dumps(asdict(info), indent=2) + "\n")


def load_embeddings(folder: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, EmbeddingInfo]:
    root = Path(folder)
    if not (root / "info.json").is_file():
        raise FileNotFoundError(f"no embeddings in {root}; run `dvc repro embed`")
    info = EmbeddingInfo(**json.loads((root / "info.json").read_text()))
    vectors = np.load(root / "vectors.npy")
    chunk_ids = np.load(root / "chunk_ids.npy")
    if vectors.shape != (len(chunk_ids), info.dimension):
        raise ValueError(f"{root}: vectors have shape {vectors.shape}, expected "
                         f"({len(chunk_ids)}, {info.dimension})")
    return vectors, chunk_ids, info
