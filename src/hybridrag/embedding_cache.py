"""Reuse of chunk vectors across runs: each vector is keyed by a hash of exactly what was encoded
(the passage text with its title), the encoder's weights, its token limit and the backend that
ran it, so a changed corpus re-encodes only new or changed chunks and a changed model or
backend re-encodes everything."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hybridrag.embedding_store import EmbeddingSet

KEY_BYTES = 16  # blake2b digest size: 128 bits, collisions out of reach at any corpus size


def model_fingerprint(folder: Path) -> str:
    """A hash of every file in a model folder (weights, config, tokenizer), by relative path."""
    digest = hashlib.blake2b(digest_size=KEY_BYTES)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def cache_keys(texts: Sequence[str], fingerprint: str, max_seq_length: int,
               backend: str = "torch") -> np.ndarray:
    """One fixed-width key per text (numpy bytes, saved beside the vectors). Torch keys carry
    no backend, so caches written before ONNX embedding stay valid."""
    runner = "" if backend == "torch" else f"{backend}\0"
    prefix = f"{fingerprint}\0{max_seq_length}\0{runner}".encode()
    return np.array([hashlib.blake2b(prefix + text.encode(), digest_size=KEY_BYTES).digest()
                     for text in texts], dtype=f"S{KEY_BYTES}")


def cached_rows(previous: EmbeddingSet | None, keys: np.ndarray) -> dict[int, int]:
    """{index into `keys`: row of `previous` holding its vector} for the keys `previous` has."""
    if previous is None or previous.keys is None:
        return {}
    row_of = {key: row for row, key in enumerate(previous.keys.tolist())}
    return {i: row_of[key] for i, key in enumerate(keys.tolist()) if key in row_of}
