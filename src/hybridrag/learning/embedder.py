"""Fine-tuning the embedding model on (query, passage) pairs: MultipleNegativesRankingLoss over
no-duplicate batches, validation nDCG@10 during training, the best checkpoint kept."""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hybridrag.atomic import atomic_directory
from hybridrag.config import FinetuneEmbedParams
from hybridrag.device import pick_device
from hybridrag.embedding import load_encoder
from hybridrag.learning.pairs import Pair
from hybridrag.learning.saving import save_model

EVALUATOR = "validation"
BEST_METRIC = f"eval_{EVALUATOR}_cosine_ndcg@10"


def validation_evaluator(validation: Sequence[Pair], distractors: Sequence[Pair], limit: int
                         ) -> Any:
    """Retrieval of each validation pair's passage among all validation passages plus up to
    `limit` distractor passages (training passages: they are never relevant here)."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    corpus = {f"c{p.chunk_id}": p.passage for p in validation}
    for pair in distractors[:limit]:
        corpus.setdefault(f"c{pair.chunk_id}", pair.passage)
    queries = {f"q{i}": p.query for i, p in enumerate(validation)}
    relevant = {f"q{i}": {f"c{p.chunk_id}"} for i, p in enumerate(validation)}
    return InformationRetrievalEvaluator(queries, corpus, relevant, name=EVALUATOR,
                                         accuracy_at_k=[1, 10], precision_recall_at_k=[10],
                                         map_at_k=[10], write_csv=False)


def finetune(base_model: str, train: Sequence[Pair], validation: Sequence[Pair],
             params: FinetuneEmbedParams, out_dir: Path, checkpoints: Path) -> dict[str, Any]:
    """Train, keep the checkpoint with the best validation nDCG@10, save it; return metrics."""
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    device = pick_device(params.device)
    model = load_encoder(base_model, device)
    if not train or not validation:  # a corpus without queries, and too few synthetic ones
        with atomic_directory(out_dir) as staging:
            save_model(model, staging)
        return {"trained": False, "reason": f"no pairs to learn from ({len(train)} training, "
                f"{len(validation)} validation): the base model is kept unchanged",
                "training_pairs": len(train), "validation_pairs": len(validation)}
    inference_length = model.max_seq_length
    model.max_seq_length = params.max_seq_length  # shorter while training: ~2x faster on CPU
    pairs = list(train)
    random.Random(params.seed).shuffle(pairs)
    pairs = pairs[:params.max_pairs] if params.max_pairs else pairs
    evaluator = validation_evaluator(validation, pairs, params.validation_distractors)
    before = evaluator(model)[f"{EVALUATOR}_cosine_ndcg@10"]
    shutil.rmtree(checkpoints, ignore_errors=True)  # short runs: restarting is cheaper than resuming
    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints), num_train_epochs=params.epochs,
        per_device_train_batch_size=params.batch_size, learning_rate=params.learning_rate,
        warmup_steps=params.warmup_steps, batch_sampler=BatchSamplers.NO_DUPLICATES,
        eval_strategy="steps", eval_steps=params.eval_steps, save_strategy="steps",
        save_steps=params.eval_steps, save_total_limit=2, load_best_model_at_end=True,
        metric_for_best_model=BEST_METRIC, greater_is_better=True, logging_steps=10,
        report_to=[], use_cpu=device == "cpu", seed=params.seed, data_seed=params.seed)
    trainer = SentenceTransformerTrainer(
        model=model, args=args, evaluator=evaluator,
        train_dataset=Dataset.from_dict({"anchor": [p.query for p in pairs],
                                         "positive": [p.passage for p in pairs]}),
        loss=MultipleNegativesRankingLoss(model))
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    model.max_seq_length = inference_length
    after = evaluator(model)[f"{EVALUATOR}_cosine_ndcg@10"]
    with atomic_directory(out_dir) as staging:
        save_model(model, staging)
    shutil.rmtree(checkpoints, ignore_errors=True)
    history = [h for h in trainer.state.log_history if BEST_METRIC in h]
    return {
        "trained": True,
        "training_pairs": len(pairs),
        "synthetic_pairs": sum(p.source == "synthetic" for p in pairs),
        "validation_pairs": len(validation),
        "validation_ndcg@10_before": round(before, 5),
        "validation_ndcg@10_after": round(after, 5),
        "best_step": trainer.state.best_global_step,
        "steps": trainer.state.global_step,
        "evaluations": [{"step": h["step"], "ndcg@10": round(h[BEST_METRIC], 5)} for h in history],
        "train_seconds": round(seconds, 1),
        "device": device,
    }
