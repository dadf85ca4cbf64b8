"""The embed stage's output folder: vectors.npy, chunk_ids.npy (row i <-> chunk id), info.json and
keys.npy (row i's cache key: what was encoded, by which weights; see embedding_cache)."""

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
    backend: str = "torch"  # embed.backend: torch | onnx | onnx_int8 (sets saved before it: torch)


@dataclass(frozen=True)
class EmbeddingSet:
    """Chunk vectors made by one model: row i of `vectors` belongs to `chunk_ids[i]`."""

    vectors: np.ndarray
    chunk_ids: np.ndarray
    info: EmbeddingInfo
    keys: np.ndarray | None = None  # row i's cache key; None for sets saved before the cache

    def __post_init__(self) -> None:
        if self.vectors.shape != (len(self.chunk_ids), self.info.dimension):
            raise ValueError(f"vectors have shape {self.vectors.shape}, expected "
                             f"({len(self.chunk_ids)}, {self.info.dimension})")
        if self.keys is not None and len(self.keys) != len(self.chunk_ids):
            raise ValueError(f"{len(self.keys)} cache keys for {len(self.chunk_ids)} vectors")


def save_embeddings(folder: str | os.PathLike[str], embeddings: EmbeddingSet) -> None:
    with atomic_directory(folder) as staging:
        np.save(staging / "vectors.npy", embeddings.vectors.astype(np.float32, copy=False))
        np.save(staging / "chunk_ids.npy", embeddings.chunk_ids.astype(np.int64, copy=False))
        if embeddings.keys is not None:
            np.save(staging / "keys.npy", embeddings.keys)
        (staging / "info.json").write_text(json.dumps(asdict(embeddings.info), indent=2) + "\n")


def load_embeddings(folder: str | os.PathLike[str]) -> EmbeddingSet:
    root = Path(folder)
    if not (root / "info.json").is_file():
        raise FileNotFoundError(f"no embeddings in {root}; run `dvc repro embed`")
    info = EmbeddingInfo(**json.loads((root / "info.json").read_text()))
    keys = np.load(root / "keys.npy") if (root / "keys.npy").is_file() else None
    return EmbeddingSet(np.load(root / "vectors.npy"), np.load(root / "chunk_ids.npy"), info, keys)
