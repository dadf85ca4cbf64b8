"""Training the cross-encoder reranker (no pretrained one installs offline): hard negatives mined
from the hybrid retriever, a ranking loss (or binary cross-entropy), and the reranker's share in
the final score chosen on validation queries. Query-time reranking is `search.rerank`."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hybridrag.atomic import atomic_directory
from hybridrag.config import RerankParams
from hybridrag.device import pick_device
from hybridrag.embedding import resolve_model_path
from hybridrag.learning.pairs import Pair
from hybridrag.learning.saving import save_model
from hybridrag.metrics import evaluate
from hybridrag.ranking import rank_scores
from hybridrag.search.rerank import CONFIG, Reranker, interpolate, runnable
from hybridrag.search.searcher import Searcher

FIRST_STAGE = 0.0  # the reranker share that keeps the first-stage order


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
                                      tuple(searcher.passages(results[:negatives]))))
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


def new_cross_encoder(base_model: str, params: RerankParams) -> Any:
    """A cross-encoder with a fresh one-logit head on `base_model`'s transformer."""
    from sentence_transformers import CrossEncoder

    return CrossEncoder(str(resolve_model_path(base_model)), num_labels=1,
                        max_length=params.max_length, device=pick_device(params.device))


class TrainingSettings(Protocol):
    """The optimiser settings a cross-encoder is trained with (rerank, answerability)."""

    epochs: float
    batch_size: int
    learning_rate: float
    warmup_steps: int
    seed: int


def fit_cross_encoder(model: Any, columns: dict[str, list[Any]], loss: Any,
                      settings: TrainingSettings, checkpoints: Path) -> None:
    """Train `model` in place on the dataset `columns` with `loss` (no checkpoints kept)."""
    from datasets import Dataset
    from sentence_transformers import CrossEncoderTrainer, CrossEncoderTrainingArguments

    args = CrossEncoderTrainingArguments(
        output_dir=str(checkpoints), num_train_epochs=settings.epochs,
        per_device_train_batch_size=settings.batch_size, learning_rate=settings.learning_rate,
        warmup_steps=settings.warmup_steps, logging_steps=10, save_strategy="no", report_to=[],
        use_cpu=str(model.device) == "cpu", seed=settings.seed, data_seed=settings.seed)
    CrossEncoderTrainer(model=model, args=args, train_dataset=Dataset.from_dict(columns),
                        loss=loss).train()


def train_cross_encoder(examples: Sequence[TrainingQuery], base_model: str, params: RerankParams,
                        checkpoints: Path) -> Any:
    """A new cross-encoder (`new_cross_encoder`, its fresh head drawn from `params.seed`) trained
    on the examples."""
    import torch
    from sentence_transformers.cross_encoder.losses import (
        BinaryCrossEntropyLoss,
        MultipleNegativesRankingLoss,
    )

    torch.manual_seed(params.seed)  # the trainer seeds only after the head exists
    model = new_cross_encoder(base_model, params)
    loss = (BinaryCrossEntropyLoss(model) if params.loss == "bce" else
            MultipleNegativesRankingLoss(model, num_negatives=params.in_batch_negatives))
    fit_cross_encoder(model, training_columns(examples, params.loss, params.seed), loss, params,
                      checkpoints)
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
                       reranker.scores(pair.query, searcher.passages(results)).tolist(),
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
        save_model(model, staging)
        (staging / CONFIG).write_text(json.dumps(config, indent=2) + "\n")


@dataclass(frozen=True)
class ValidationSet:
    """Pairs the reranker's share is chosen on, and the searcher over the documents they
    judge (set to the first-stage fusion the reranker interpolates with)."""

    name: str
    pairs: Sequence[Pair]
    searcher: Searcher


def train_reranker(train: Sequence[Pair], validation: Sequence[Pair], searcher: Searcher,
                   base_model: str, params: RerankParams, checkpoints: Path,
                   extra_queries: Sequence[TrainingQuery] = (),
                   extra_validation: Sequence[ValidationSet] = ()
                   ) -> tuple[Reranker, dict[str, Any]]:
    """The train_reranker stage: seeded samples of the pairs, hard negatives mined with
    `searcher` (set to `params.first_stage`), `extra_queries` added (natural questions with
    their negatives), training, and the reranker share `choose_weight` picks on the corpus's
    validation pairs and each of `extra_validation`. Returns the reranker and what to record."""
    extra_validation = [v for v in extra_validation if v.pairs]
    if not (train or extra_queries) or not (validation or extra_validation):
        reason = (f"no pairs to learn from ({len(train) + len(extra_queries)} training, "
                  f"{len(validation)} validation): untrained, with share 0.0, so reranking keeps "
                  "the first-stage order")
        return Reranker(new_cross_encoder(base_model, params), 0.0), {
            "trained": False, "reason": reason, "weight": 0.0, "base_model": base_model,
            "training_queries": len(train), "validation_queries": len(validation)}
    rng = random.Random(params.seed)
    train = rng.sample(list(train), min(len(train), params.max_queries or len(train)))
    validation = rng.sample(list(validation),
                            min(len(validation), params.validation_queries or len(validation)))
    examples = mine_examples(searcher, train, params.negatives) + list(extra_queries)
    started = time.perf_counter()
    model = train_cross_encoder(examples, base_model, params, checkpoints)
    seconds = time.perf_counter() - started
    sets = [ValidationSet("corpus", validation, searcher)] if validation else []
    sets += extra_validation
    sweeps, latency = {}, 0.0
    scorer = Reranker(runnable(model), 0.0)  # as queries will run it
    swept = sorted({FIRST_STAGE, *params.weights})  # the first stage: what every share is judged against
    for valid in sets:
        sweeps[valid.name], latency = weight_sweep(scorer, valid.searcher, valid.pairs,
                                                   params.depth, swept)
    mean = {w: sum(ndcg_at(sweep, w) for sweep in sweeps.values()) / len(sweeps) for w in swept}
    weight = choose_weight(sweeps, params.weights)
    record = {"trained": True, "weight": weight, "base_model": base_model, "loss": params.loss,
              "training_queries": len(train), "natural_training_queries": len(extra_queries),
              "validation_queries": len(validation),
              "chosen_on": ("the smallest validation nDCG@10 gain over the first stage among "
                            f"{' and '.join(sweeps)}, then their mean gain"),
              "depth": params.depth, "sweep": sweeps.get("corpus", []),
              **{f"sweep_{name}": sweep for name, sweep in sweeps.items() if name != "corpus"},
              "validation_ndcg@10_by_weight": {name: {f"{row['weight']:g}": row["ndcg@10"]
                                                      for row in sweep}
                                               for name, sweep in sweeps.items()},
              "validation_ndcg@10_first_stage": round(mean[FIRST_STAGE], 5),
              "validation_ndcg@10_reranked": round(mean[weight], 5),
              "train_seconds": round(seconds, 1), "rerank_ms_per_query": round(1000 * latency, 1)}
    for valid in sets:
        sweep = sweeps[valid.name]
        record[f"validation_ndcg@10_{valid.name}"] = {
            "first_stage": ndcg_at(sweep, FIRST_STAGE), "reranked": ndcg_at(sweep, weight),
            "queries": len(valid.pairs)}
    return Reranker(model, weight), record


def choose_weight(sweeps: dict[str, Sequence[dict[str, Any]]], weights: Sequence[float]) -> float:
    """The reranker share of `weights` whose smallest nDCG@10 gain over the first stage (share 0)
    across the validation sets' `weight_sweep`s is largest, then the largest mean gain, then the
    smallest share: a share that lowers no set where one exists (the first stage itself gains 0
    on all, so a share that helps one kind of question by hurting another loses to it when 0 is
    among `weights`). A mean over the sets would let a large gain on one hide a loss on another."""
    def gains(weight: float) -> list[float]:
        return [ndcg_at(sweep, weight) - ndcg_at(sweep, FIRST_STAGE) for sweep in sweeps.values()]

    return max(weights, key=lambda w: (min(gains(w)), sum(gains(w)) / len(sweeps), -w))


def ndcg_at(sweep: Sequence[dict[str, Any]], weight: float) -> float:
    """The validation nDCG@10 of the reranker share `weight` in a `weight_sweep`."""
    return next(row["ndcg@10"] for row in sweep if row["weight"] == weight)
