"""A cross-encoder reranker trained here (no pretrained one installs offline): hard negatives
mined from the hybrid retriever, a ranking loss (or binary cross-entropy), and a reranker share
chosen on validation queries for interpolating its score with the first-stage score."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hybridrag.atomic import atomic_directory
from hybridrag.config import RerankParams
from hybridrag.embedding import passage_text, pick_device, resolve_model_path
from hybridrag.fusion import minmax, weighted_sum
from hybridrag.metrics import evaluate
from hybridrag.pairs import Pair
from hybridrag.ranking import rank_scores
from hybridrag.search.hybrid import SearchResult

if TYPE_CHECKING:
    from hybridrag.search.searcher import Searcher

CONFIG = "rerank.json"


def interpolate(reranker_scores: dict[str, float], first_stage: dict[str, float], weight: float
                ) -> dict[str, float]:
    """weight * minmax(reranker) + (1 - weight) * minmax(first stage), per document."""
    return weighted_sum([minmax(reranker_scores), minmax(first_stage)], [weight, 1.0 - weight])


class Reranker:
    """A trained cross-encoder and the share of its score in the final ranking."""

    def __init__(self, model: Any, weight: float, batch_size: int = 32):
        self.model = model
        self.weight = weight
        self.batch_size = batch_size
        self._lock = threading.Lock()  # one caller at a time: the fast tokenizer is not reentrant

    @classmethod
    def load(cls, model_dir: str | os.PathLike[str], device: str = "auto") -> Reranker:
        """A reranker saved by the train_reranker stage (its weight was chosen there)."""
        from sentence_transformers import CrossEncoder

        folder = Path(model_dir)
        if not (folder / CONFIG).is_file():
            raise FileNotFoundError(f"no reranker at {folder}; run `dvc repro train_reranker`")
        config = json.loads((folder / CONFIG).read_text())
        return cls(CrossEncoder(str(folder), device=pick_device(device)), config["weight"])

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
        weight = self.weight if weight is None else weight
        raw = dict(zip((r.doc_id for r in results), self.scores(query, passages).tolist(), strict=True))
        final = interpolate(raw, {r.doc_id: r.score for r in results}, weight)
        by_doc = {r.doc_id: r for r in results}
        return [replace(by_doc[doc], rank=rank, score=score, first_stage_score=by_doc[doc].score,
                        first_stage_rank=by_doc[doc].rank, rerank_score=raw[doc])
                for rank, (doc, score) in enumerate(rank_scores(final), start=1)]


def candidate_passages(searcher: Searcher, results: Sequence[SearchResult]) -> list[str]:
    """The text the reranker reads for each result: its best chunk, titled."""
    documents = searcher.documents([r.doc_id for r in results])
    chunks = searcher.chunks([r.chunk_id for r in results])
    include_title = searcher.embedding.include_title
    return [passage_text(documents[r.doc_id].title, chunks[r.chunk_id].text, include_title)
            for r in results]


@dataclass(frozen=True)
class TrainingQuery:
    """A query, its relevant passage, and hard negatives: the top first-stage results of
    other documents, the passages a retriever really confuses with the answer."""

    query: str
    positive: str
    negatives: tuple[str, ...]


def mine_examples(searcher: Searcher, pairs: Sequence[Pair], negatives: int) -> list[TrainingQuery]:
    examples = []
    for pair in pairs:
        results = [r for r in searcher.search(pair.query, k=negatives + 3) if r.doc_id != pair.doc_id]
        examples.append(TrainingQuery(pair.query, pair.passage,
                                      tuple(candidate_passages(searcher, results[:negatives]))))
    return examples


def training_columns(examples: Sequence[TrainingQuery], loss: str, seed: int) -> dict[str, list[Any]]:
    """The trainer's dataset columns. bce: shuffled (query, passage, label) rows, 1 for the
    positive and 0 for each negative. mnrl: (query, positive, negative_1..n) rows, for queries
    with all n hard negatives (the loss adds in-batch negatives)."""
    if loss == "bce":
        rows = [(e.query, text, label) for e in examples
                for text, label in [(e.positive, 1.0), *((n, 0.0) for n in e.negatives)]]
        random.Random(seed).shuffle(rows)
        return {"query": [r[0] for r in rows], "passage": [r[1] for r in rows],
                "label": [r[2] for r in rows]}
    if loss != "mnrl":
        raise ValueError(f"unknown reranker loss {loss!r}; use 'mnrl' or 'bce'")
    width = max((len(e.negatives) for e in examples), default=0)
    full = [e for e in examples if len(e.negatives) == width]
    return {"query": [e.query for e in full], "positive": [e.positive for e in full],
            **{f"negative_{i + 1}": [e.negatives[i] for e in full] for i in range(width)}}


def train_cross_encoder(examples: Sequence[TrainingQuery], base_model: str, params: RerankParams,
                        checkpoints: Path) -> Any:
    """A cross-encoder with a fresh one-logit head on `base_model`'s transformer."""
    from datasets import Dataset
    from sentence_transformers import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import (
        BinaryCrossEntropyLoss,
        MultipleNegativesRankingLoss,
    )

    device = pick_device(params.device)
    model = CrossEncoder(str(resolve_model_path(base_model)), num_labels=1,
                         max_length=params.max_length, device=device)
    args = CrossEncoderTrainingArguments(
        output_dir=str(checkpoints), num_train_epochs=params.epochs,
        per_device_train_batch_size=params.batch_size, learning_rate=params.learning_rate,
        warmup_steps=10, logging_steps=10, save_strategy="no", report_to=[],
        use_cpu=device == "cpu", seed=params.seed, data_seed=params.seed)
    dataset = Dataset.from_dict(training_columns(examples, params.loss, params.seed))
    loss = (BinaryCrossEntropyLoss(model) if params.loss == "bce" else
            MultipleNegativesRankingLoss(model, num_negatives=params.in_batch_negatives))
    CrossEncoderTrainer(model=model, args=args, train_dataset=dataset, loss=loss).train()
    return model


def weight_sweep(reranker: Reranker, searcher: Searcher, pairs: Sequence[Pair], depth: int,
                 weights: Sequence[float]) -> tuple[list[dict[str, float]], float]:
    """nDCG@10 of the first stage reranked with each weight (0 = first stage alone), and the
    mean seconds per query spent reranking."""
    qrels = {f"q{i}": {p.doc_id: 1} for i, p in enumerate(pairs)}
    runs: dict[float, dict[str, list[str]]] = {w: {} for w in weights}
    seconds = 0.0
    for i, pair in enumerate(pairs):
        results = searcher.search(pair.query, k=depth)
        started = time.perf_counter()
        raw = dict(zip((r.doc_id for r in results),
                       reranker.scores(pair.query, candidate_passages(searcher, results)).tolist(),
                       strict=True))
        seconds += time.perf_counter() - started
        for weight in weights:
            final = interpolate(raw, {r.doc_id: r.score for r in results}, weight)
            runs[weight][f"q{i}"] = [doc for doc, _ in rank_scores(final)]
    table = [{"weight": w, "ndcg@10": round(evaluate(run, qrels, (10,))[0]["ndcg@10"], 5)}
             for w, run in runs.items()]
    return table, seconds / max(len(pairs), 1)


def save_reranker(model: Any, out_dir: Path, config: dict[str, Any]) -> None:
    with atomic_directory(out_dir) as staging:
        model.save_pretrained(str(staging))
        (staging / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
