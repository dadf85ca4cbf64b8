"""The two numeric runs on the same rows and settings: plain SFT (token cross-entropy) and the
hybrid loss (cross-entropy + weight * regression loss of a head), each a LoRA or QLoRA adapter
saved atomically with its run.json (and, for the hybrid run, its head); resumable."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from hybridrag.chat.models import load_base, load_tokenizer
from hybridrag.config import NumericParams
from hybridrag.device import pick_device
from hybridrag.numeric.head import Normalizer, RegressionHead
from hybridrag.numeric.rows import NumericRow, read_rows
from hybridrag.numeric.trainer import TARGET, RegressionSFTTrainer
from hybridrag.reporting import write_json
from hybridrag.sft.memory import PeakMemory
from hybridrag.sft.training import (
    RunPaths,
    TrainingCurves,
    fit,
    latest_checkpoint,
    peft_config,
    save_run,
    skip,
    trainer_arguments,
)

Loss = Literal["cross_entropy", "hybrid"]


def as_dataset(rows: Sequence[NumericRow]) -> Any:
    from datasets import Dataset

    return Dataset.from_list([{"messages": row.messages, TARGET: row.target} for row in rows])


def train_numeric(loss: Loss, params: NumericParams, train_rows: Sequence[NumericRow],
                  validation_rows: Sequence[NumericRow], paths: RunPaths) -> dict[str, Any]:
    """Train one run, save it, write its metrics JSON and return them."""
    from trl import SFTConfig, SFTTrainer

    if not train_rows:
        raise ValueError("numeric: no training rows (see metrics/numeric/data.json)")
    run, settings, regression = params.train, params.adapter, params.regression
    device = pick_device(run.device)
    fingerprint = {"loss": loss, "method": params.method, "adapter": settings.model_dump(),
                   "train": run.model_dump(), "train_size": len(train_rows),
                   # the plain run never reads the regression settings (a weight sweep keeps it)
                   **({"regression": regression.model_dump()} if loss == "hybrid" else {})}
    resume = latest_checkpoint(paths.checkpoints, fingerprint)
    tokenizer = load_tokenizer(paths.base_model)
    quantize = ({"quant_type": settings.quant_type, "double_quant": settings.double_quant}
                if params.method == "qlora" else None)
    model = load_base(paths.base_model, quantize, device)
    evaluation = list(validation_rows[:run.eval_samples])
    args = SFTConfig(
        **trainer_arguments(run, device, paths.checkpoints, settings.learning_rate, run.max_steps,
                            run.batch_size),
        eval_strategy="steps" if evaluation else "no", eval_steps=run.eval_steps,
        assistant_only_loss=True, remove_unused_columns=False)  # keep the target column
    memory = PeakMemory(device)
    resume_step = int(resume.rsplit("-", 1)[1]) if resume else 0
    common: dict[str, Any] = dict(
        model=model, args=args, train_dataset=as_dataset(train_rows),
        eval_dataset=as_dataset(evaluation) if evaluation else None, processing_class=tokenizer,
        peft_config=peft_config(params.method, settings, tokenizer),
        callbacks=[memory.callback(), TrainingCurves(paths.live_dir, resume_step)])
    normalizer = None
    if loss == "hybrid":
        normalizer = Normalizer.fit([row.target for row in train_rows], regression.normalization)
        trainer: Any = RegressionSFTTrainer(
            **common, head=RegressionHead(model.config.hidden_size, regression.head_hidden),
            normalizer=normalizer, weight=regression.weight, loss=regression.loss)
    else:
        trainer = SFTTrainer(**common)
    metrics = {"loss": loss, "method": params.method, "train_rows": len(train_rows),
               **fit(trainer, resume, memory, device)}
    if normalizer is not None:
        history = trainer.state.log_history
        metrics["regression_loss"] = next((round(h["regression_loss"], 5) for h in reversed(history)
                                           if "regression_loss" in h), None)
        metrics["normalizer"] = {"kind": normalizer.kind, "mean": normalizer.mean,
                                 "std": normalizer.std}
    save_run(trainer, tokenizer, paths.out_dir,
             {"kind": "adapter", "method": params.method, "loss": loss, "quantize": quantize,
              "settings": settings.model_dump(), "regression": regression.model_dump()
              if loss == "hybrid" else None})
    write_json(paths.metrics, metrics)
    shutil.rmtree(paths.checkpoints, ignore_errors=True)  # done: nothing left to resume
    return metrics


def train_or_skip(loss: Loss, params: NumericParams, data_dir: Path, paths: RunPaths) -> str:
    """Train on data_dir's train/validation rows, or, without training rows (a corpus whose
    queries date nothing), write a skipped run that loads as the base model; a summary line."""
    train_rows = read_rows(data_dir / "train.jsonl")
    if not train_rows:
        skip(loss, paths, f"no training rows in {data_dir}")
        return f"train_numeric@{loss}: skipped (no training rows in {data_dir})"
    metrics = train_numeric(loss, params, train_rows, read_rows(data_dir / "validation.jsonl"),
                            paths)
    return (f"train_numeric@{loss}: {metrics['train_steps']} steps in {metrics['train_seconds']} s, "
            f"loss {metrics['train_loss']} -> {paths.out_dir}")
