"""A sentence-transformers text encoder run by ONNX Runtime on CPU: single queries for the
service, and bulk passages for the embed stage (embed.backend: onnx | onnx_int8).

The transformer, mean pooling and unit normalisation are exported together
(hybridrag.onnx_graphs); the vectors match torch's to ~1e-6 (tested), while one short query
takes about a third of the time. `quantize=True` dynamically quantises the weights of the
exported graph to int8 (per output channel), which changes the vectors slightly:
bench/embed_backends.py measures the speed and the retrieval quality. A model folder's export
is kept in the cache (hybridrag.onnx_cache) under the hash of its files, so `load` opens it the
next time without importing torch, transformers or sentence-transformers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from hybridrag.onnx_cache import graph_metadata, kept_session, model_folder_key
from hybridrag.token_features import TokenFeatures


class OnnxTextEncoder:
    """Unit-length embeddings from an ONNX export of a mean-pooled encoder.

    `threads`: None lets ONNX Runtime use every core (bulk encoding); a number fixes the
    thread count, with helper threads that sleep when idle (a service sharing its cores).
    """

    def __init__(self, session: Any, settings: dict[str, Any]):
        self.session = session
        self.features = TokenFeatures(settings)
        self.dimension = int(settings["dimension"])

    @classmethod
    def of(cls, encoder: Any, threads: int | None = 1, quantize: bool = False) -> OnnxTextEncoder:
        """A loaded SentenceTransformer (transformer + mean pooling), exported (or its kept export)."""
        from hybridrag.onnx_graphs import text_encoder_session

        return cls(*text_encoder_session(encoder, threads, quantize))

    @classmethod
    def load(cls, folder: str | os.PathLike[str], max_seq_length: int | None = None,
             threads: int | None = 1, quantize: bool = False) -> OnnxTextEncoder:
        """The encoder saved in `folder` (CPU): its kept export when there is one, else the
        model loaded with sentence-transformers and exported (then kept)."""
        name = model_folder_key("text-encoder", Path(folder), quantize, max_seq_length)
        session = kept_session(name, threads)
        if session is not None:
            return cls(session, graph_metadata(session))
        from sentence_transformers import SentenceTransformer

        from hybridrag.onnx_graphs import text_encoder_session

        encoder = SentenceTransformer(str(folder), device="cpu")
        if max_seq_length is not None:
            encoder.max_seq_length = max_seq_length
        return cls(*text_encoder_session(encoder, threads, quantize, name))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One forward pass over `texts`, padded to the longest."""
        return np.ascontiguousarray(self.session.run(None, self.features(list(texts)))[0],
                                    dtype=np.float32)

    def encode_many(self, texts: Sequence[str], batch_size: int = 64,
                    progress: bool = False) -> np.ndarray:
        """Batches of similar length (longest first, as sentence-transformers does), so little
        padding is computed; rows come back in the order of `texts`."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        rows: list[np.ndarray] = []
        for start in tqdm(range(0, len(order), batch_size), desc="Batches", disable=not progress):
            rows.append(self.encode([texts[i] for i in order[start:start + batch_size]]))
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        if rows:
            vectors[order] = np.concatenate(rows)
        return vectors
