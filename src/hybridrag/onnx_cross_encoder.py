"""A sentence-transformers CrossEncoder scored by ONNX Runtime on CPU: the model's own
tokenisation (hybridrag.token_features, equal to its `preprocess`), then its classifier and
activation exported together (hybridrag.onnx_graphs), so the scores are `predict`'s to ~1e-6
(tested) in less time (bench/rerank_runtime.py). A model folder's export is kept in the cache
under the hash of its files, so `load` opens it the next time without importing torch,
transformers or sentence-transformers."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from hybridrag.onnx_cache import graph_metadata, kept_session, model_folder_key
from hybridrag.token_features import TokenFeatures


class OnnxCrossEncoder:
    """`predict` of a one-label CrossEncoder, run by ONNX Runtime (`threads`: None uses every
    core; `quantize`: int8 weights, which change the scores slightly)."""

    def __init__(self, session: Any, settings: dict[str, Any]):
        self.session = session
        self.features = TokenFeatures(settings)

    @classmethod
    def of(cls, model: Any, threads: int | None = None, quantize: bool = False) -> OnnxCrossEncoder:
        """A loaded CrossEncoder, exported (or its kept export)."""
        from hybridrag.onnx_graphs import cross_encoder_session

        return cls(*cross_encoder_session(model, threads, quantize))

    @classmethod
    def load(cls, folder: str | os.PathLike[str], threads: int | None = None,
             quantize: bool = False) -> OnnxCrossEncoder:
        """The cross-encoder saved in `folder` (CPU): its kept export when there is one, else
        the model loaded with sentence-transformers and exported (then kept)."""
        name = model_folder_key("cross-encoder", Path(folder), quantize)
        session = kept_session(name, threads)
        if session is not None:
            return cls(session, graph_metadata(session))
        from sentence_transformers import CrossEncoder

        from hybridrag.onnx_graphs import cross_encoder_session

        return cls(*cross_encoder_session(CrossEncoder(str(folder), device="cpu"), threads,
                                          quantize, name))

    def predict(self, pairs: Sequence[tuple[str, str]], batch_size: int = 32,
                show_progress_bar: bool = False) -> np.ndarray:
        """One score per (query, passage) pair, `batch_size` pairs per forward pass."""
        scores = [np.zeros(0, dtype=np.float32)]
        for start in tqdm(range(0, len(pairs), batch_size), desc="Batches",
                          disable=not show_progress_bar):
            scores.append(self.session.run(None, self.features(list(pairs[start:start + batch_size])))[0])
        return np.concatenate(scores)
