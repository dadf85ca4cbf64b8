"""Query-time reranking: a trained cross-encoder rescores the first stage's top candidates, and
its score is interpolated with the first-stage score (the share was chosen on validation)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from hybridrag.device import pick_device
from hybridrag.fusion import minmax, weighted_sum
from hybridrag.ranking import rank_scores
from hybridrag.search.hybrid import SearchResult

CONFIG = "rerank.json"  # beside the cross-encoder's weights: its share, how it was trained


def interpolate(reranker_scores: dict[str, float], first_stage: dict[str, float], weight: float
                ) -> dict[str, float]:
    """weight * minmax(reranker) + (1 - weight) * minmax(first stage), per document."""
    return weighted_sum([minmax(reranker_scores), minmax(first_stage)], [weight, 1.0 - weight])


def runnable(model: Any) -> Any:
    """The cross-encoder as queries run it: on CPU its ONNX Runtime export (the same scores to
    ~1e-6, faster: bench/rerank_runtime.py), elsewhere the model itself."""
    if model.device.type != "cpu":
        return model
    from hybridrag.onnx_cross_encoder import OnnxCrossEncoder

    return OnnxCrossEncoder.of(model)


class Reranker:
    """A trained cross-encoder (or its `runnable` form) and the share of its score in the final
    ranking."""

    def __init__(self, model: Any, weight: float, batch_size: int = 32):
        self.model = model
        self.weight = weight
        self.batch_size = batch_size
        self._lock = threading.Lock()  # one caller at a time: the fast tokenizer is not reentrant

    @classmethod
    def load(cls, model_dir: str | os.PathLike[str], device: str = "auto") -> Reranker:
        """A reranker saved by the train_reranker stage (its weight was chosen there); on CPU,
        its ONNX export (`runnable`), opened from the cache when it is kept there."""
        folder = Path(model_dir)
        if not (folder / CONFIG).is_file():
            raise FileNotFoundError(f"no reranker at {folder}; run `dvc repro train_reranker`")
        config = json.loads((folder / CONFIG).read_text())
        device = pick_device(device)
        if device == "cpu":
            from hybridrag.onnx_cross_encoder import OnnxCrossEncoder

            return cls(OnnxCrossEncoder.load(folder), config["weight"])
        from sentence_transformers import CrossEncoder

        return cls(CrossEncoder(str(folder), device=device), config["weight"])

    def scores(self, query: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0)
        with self._lock:
            return np.asarray(self.model.predict([(query, p) for p in passages],
                                                 batch_size=self.batch_size,
                                                 show_progress_bar=False))

    def rerank(self, query: str, results: Sequence[SearchResult], passages: Sequence[str],
               weight: float | None = None) -> list[SearchResult]:
        """`results` reordered by the interpolated score; each keeps its first-stage evidence."""
        return reranked(results, self.scores(query, passages),
                        self.weight if weight is None else weight)


def reranked(results: Sequence[SearchResult], cross_scores: Sequence[float], weight: float
             ) -> list[SearchResult]:
    """`results` reordered by `interpolate` of their cross-encoder scores (in the order of
    `results`) with their first-stage scores; each keeps its first-stage evidence."""
    raw = dict(zip((r.doc_id for r in results), np.asarray(cross_scores).tolist(), strict=True))
    final = interpolate(raw, {r.doc_id: r.score for r in results}, weight)
    by_doc = {r.doc_id: r for r in results}
    return [replace(by_doc[doc], rank=rank, score=score, first_stage_score=by_doc[doc].score,
                    first_stage_rank=by_doc[doc].rank, rerank_score=raw[doc])
            for rank, (doc, score) in enumerate(rank_scores(final), start=1)]
