"""One fine-tuning run with TRL's SFTTrainer: PEFT (LoRA, QLoRA, prompt or prefix tuning) or full
(optionally DeepSpeed), loss on assistant turns only, resumable from checkpoints."""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from hybridrag.atomic import atomic_directory
from hybridrag.chat.models import RUN_INFO, load_base, load_tokenizer
from hybridrag.config import (
    FullParams,
    LoraParams,
    QloraParams,
    SftMethod,
    SftParams,
    SftTrainParams,
)
from hybridrag.device import pick_device
from hybridrag.reporting import write_json
from hybridrag.sft.conversations import Conversation
from hybridrag.sft.memory import PeakMemory

logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
Method = SftMethod
CHECKPOINT_CONFIG = "run-config.json"


@dataclass(frozen=True)
class RunPaths:
    base_model: Path  # prepare_base output
    out_dir: Path  # final adapter or model (a DVC output)
    checkpoints: Path  # outside DVC outputs, so an interrupted run can resume
    live_dir: Path  # DVCLive logs (training curves)
    metrics: Path  # this run's metrics JSON

    @classmethod
    def from_arguments(cls, args: Any) -> RunPaths:
        """The paths a training stage was given (stage.add_training_arguments)."""
        return cls(Path(args.base_model), Path(args.out), Path(args.checkpoints), Path(args.live),
                   Path(args.metrics))


def method_params(params: SftParams, method: Method) -> Any:
    return getattr(params, method)


def peft_config(method: Method, settings: Any, tokenizer: Any) -> Any:
    """The PEFT configuration of a method (None for full fine-tuning)."""
    from peft import LoraConfig, PrefixTuningConfig, PromptTuningConfig, PromptTuningInit

    if isinstance(settings, LoraParams):  # lora and qlora
        return LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                          target_modules=settings.target_modules, task_type="CAUSAL_LM")
    if method == "prompt_tuning":
        init = ({"prompt_tuning_init": PromptTuningInit.TEXT,
                 "prompt_tuning_init_text": settings.init_text,
                 "tokenizer_name_or_path": tokenizer.name_or_path}
                if settings.init_text else {"prompt_tuning_init": PromptTuningInit.RANDOM})
        return PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=settings.num_virtual_tokens,
                                  **init)
    if method == "prefix_tuning":
        return PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=settings.num_virtual_tokens)
    if isinstance(settings, FullParams):
        return None
    raise ValueError(f"unknown method {method!r}")


@torch.no_grad()
def init_prefix_from_text(model: Any, tokenizer: Any, text: str) -> None:
    """Start prefix tuning from the keys and values the base model computes for `text`.

    PEFT's default initialises the prefix at random, which wrecks every attention layer at
    step 0 (held-out loss 8.3 against the base model's 4.1 here); starting from real
    activations is the base model conditioned on `text`, so training starts where it is.
    """
    encoder = model.prompt_encoder[model.active_adapter].embedding
    config = model.peft_config[model.active_adapter]
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    ids = (ids * (config.num_virtual_tokens // max(len(ids), 1) + 1))[:config.num_virtual_tokens]
    base = model.get_base_model()
    cache = base(input_ids=torch.tensor([ids], device=encoder.weight.device), use_cache=True
                 ).past_key_values
    rows = [torch.cat([part[0].permute(1, 0, 2).reshape(len(ids), -1)
                       for layer in range(len(cache.layers))
                       for part in (cache.layers[layer].keys, cache.layers[layer].values)], dim=-1)]
    encoder.weight.copy_(rows[0].to(encoder.weight.dtype))


def latest_checkpoint(folder: Path, fingerprint: dict[str, Any]) -> str | None:
    """The newest checkpoint of an interrupted run with the same settings, else None.

    Checkpoints of other settings are deleted, so a changed experiment starts afresh.
    """
    config = folder / CHECKPOINT_CONFIG
    if folder.exists() and (not config.is_file() or json.loads(config.read_text()) != fingerprint):
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(fingerprint, indent=2, sort_keys=True))
    checkpoints = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    complete = [c for c in checkpoints if (c / "trainer_state.json").is_file()]
    return str(complete[-1]) if complete else None


def as_dataset(conversations: list[Conversation]) -> Any:
    from datasets import Dataset

    return Dataset.from_list([{"messages": c} for c in conversations])


def trainer_arguments(run: SftTrainParams, device: str, output_dir: Path, learning_rate: float,
                      max_steps: int, batch_size: int) -> dict[str, Any]:
    """The TrainingArguments every run here shares (SFT and DPO): cosine schedule, checkpoints
    to resume from, bf16 only on a GPU that has it, no hub and no reporting integrations."""
    return dict(
        output_dir=str(output_dir), max_steps=max_steps, per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size, gradient_accumulation_steps=run.gradient_accumulation,
        learning_rate=learning_rate, lr_scheduler_type="cosine",
        warmup_steps=round(run.warmup_ratio * max_steps), logging_steps=1, save_strategy="steps",
        save_steps=run.save_steps, save_total_limit=2, max_length=run.max_length,
        use_cpu=device == "cpu", bf16=device.startswith("cuda") and torch.cuda.is_bf16_supported(),
        gradient_checkpointing=run.gradient_checkpointing, report_to=[], seed=run.seed,
        data_seed=run.seed, dataloader_num_workers=0, disable_tqdm=False)


def fit(trainer: Any, resume: str | None, memory: PeakMemory, device: str) -> dict[str, Any]:
    """Train (resuming from `resume`); what every run reports: time, steps, losses, tokens/s,
    peak memory and parameter counts."""
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())
    resume_step = int(resume.rsplit("-", 1)[1]) if resume else 0
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    wall = time.perf_counter() - started
    history = trainer.state.log_history
    tokens = [h["num_tokens"] for h in history if "num_tokens" in h]
    tokens_at_resume = _tokens_at_step(history, resume_step)
    eval_losses = [h["eval_loss"] for h in history if "eval_loss" in h]
    return {
        "train_seconds": round(wall, 2),
        "train_steps": trainer.state.global_step,
        "resumed_from_step": resume_step,
        "train_loss": round(result.training_loss, 5),
        "validation_loss": round(eval_losses[-1], 5) if eval_losses else None,
        "trained_tokens": int(tokens[-1]) if tokens else None,
        "tokens_per_second": round((tokens[-1] - tokens_at_resume) / result.metrics["train_runtime"], 2)
        if tokens else None,
        "peak_memory_mb": memory.peak_mb,
        "memory_kind": memory.kind,
        "trainable_parameters": trainable,
        "total_parameters": total,
        "device": device,
    }


def save_run(trainer: Any, tokenizer: Any, out_dir: Path, info: dict[str, Any],
             extras: dict[str, Path] | None = None) -> None:
    """The trained adapter (or model), its tokenizer and run.json, swapped in atomically;
    `extras` (name -> folder) are copied in beside them."""
    with atomic_directory(out_dir) as staging:
        trainer.save_model(str(staging))
        tokenizer.save_pretrained(staging)
        for name, folder in (extras or {}).items():
            shutil.copytree(folder, staging / name)
        (staging / RUN_INFO).write_text(json.dumps(info, indent=2) + "\n")


def train(method: Method, params: SftParams, train_set: list[Conversation],
          validation_set: list[Conversation], paths: RunPaths, is_main_process: bool = True
          ) -> dict[str, Any]:
    """Train, save the adapter (or model) atomically, write metrics; resume if interrupted."""
    from trl import SFTConfig, SFTTrainer

    settings = method_params(params, method)
    run = params.train
    device = pick_device(run.device)
    fingerprint = {"method": method, "settings": settings.model_dump(), "train": run.model_dump(),
                   "base_model": params.base_model, "train_size": len(train_set)}
    resume = latest_checkpoint(paths.checkpoints, fingerprint)
    tokenizer = load_tokenizer(paths.base_model)
    quantize = ({"quant_type": settings.quant_type, "double_quant": settings.double_quant}
                if isinstance(settings, QloraParams) else None)
    model = load_base(paths.base_model, quantize, device)
    evaluation = validation_set[:run.eval_samples]  # none for a corpus too small to hold any out
    args = SFTConfig(
        **trainer_arguments(run, device, paths.checkpoints, settings.learning_rate, run.max_steps,
                            run.batch_size),
        eval_strategy="steps" if evaluation else "no", eval_steps=run.eval_steps,
        assistant_only_loss=True,
        deepspeed=settings.deepspeed_config if isinstance(settings, FullParams) else None)
    memory = PeakMemory(device)
    adapter = peft_config(method, settings, tokenizer)
    if method == "prefix_tuning" and settings.init_text:
        from peft import get_peft_model

        model, adapter = get_peft_model(model, adapter), None
        init_prefix_from_text(model, tokenizer, settings.init_text)
    resume_step = int(resume.rsplit("-", 1)[1]) if resume else 0
    trainer = SFTTrainer(model=model, args=args, train_dataset=as_dataset(train_set),
                         eval_dataset=as_dataset(evaluation) if evaluation else None,
                         processing_class=tokenizer, peft_config=adapter,
                         callbacks=[memory.callback()] + ([TrainingCurves(paths.live_dir, resume_step)]
                                                          if is_main_process else []))
    metrics = {"method": method, **fit(trainer, resume, memory, device)}
    if is_main_process:
        save_run(trainer, tokenizer, paths.out_dir,
                 {"kind": "full" if method == "full" else "adapter", "method": method,
                  "quantize": quantize, "settings": settings.model_dump()})
        write_json(paths.metrics, metrics)
        shutil.rmtree(paths.checkpoints, ignore_errors=True)  # done: nothing left to resume
    return metrics


class TrainingCurves(TrainerCallback):
    """Loss and friends logged with DVCLive against the trainer's global step.

    (transformers' DVCLiveCallback counts log calls instead, so evaluation rows shift the
    x axis.) On resume, rows after the checkpoint's step are dropped: they are trained again.
    """

    CURVES = ("loss", "grad_norm", "learning_rate", "mean_token_accuracy", "eval_loss",
              "eval_mean_token_accuracy", "rewards/margins", "rewards/accuracies")  # rewards: DPO

    def __init__(self, folder: Path, resume_step: int):
        from dvclive import Live

        self.live = Live(dir=str(folder), resume=resume_step > 0, save_dvc_exp=False, dvcyaml=None)
        for tsv in Path(self.live.plots_dir).rglob("*.tsv"):
            with tsv.open() as handle:
                rows = list(csv.DictReader(handle, delimiter="\t"))
            kept = [r for r in rows if int(r["step"]) <= resume_step]
            with tsv.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["step"],
                                        delimiter="\t")
                writer.writeheader()
                writer.writerows(kept)

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        self.live.step = state.global_step
        for key, value in (logs or {}).items():
            if key in self.CURVES and isinstance(value, int | float):
                name = f"eval/{key[5:]}" if key.startswith("eval_") else f"train/{key}"
                self.live.log_metric(name, float(value))
        self.live.make_summary()

    def on_train_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        self.live.end()


def _tokens_at_step(history: list[dict[str, Any]], step: int) -> float:
    seen = [h["num_tokens"] for h in history if "num_tokens" in h and h.get("step", 0) <= step]
    return seen[-1] if seen else 0.0


def skip(method: str, paths: RunPaths, reason: str) -> None:
    """Outputs of a run that does not train: markers that infer_compare skips and that load as
    the base model (with a warning)."""
    with atomic_directory(paths.out_dir) as staging:
        (staging / RUN_INFO).write_text(json.dumps({"kind": "skipped", "method": method,
                                                    "reason": reason}) + "\n")
    write_json(paths.metrics, {"method": method, "skipped": True, "reason": reason})
    paths.live_dir.mkdir(parents=True, exist_ok=True)


def train_or_skip(method: Method, params: SftParams, data_dir: Path, paths: RunPaths) -> str:
    """Train `method` on data_dir's train/validation splits, or skip it; returns a summary line."""
    from hybridrag.sft.conversations import read_split

    if method not in params.methods:
        skip(method, paths, "not in sft.methods")
        return f"train {method}: skipped (not in sft.methods)"
    train_set = read_split(data_dir / "train.jsonl")
    if not train_set:
        skip(method, paths, f"no training conversations in {data_dir}")
        return f"train {method}: skipped (no training conversations in {data_dir})"
    is_main = int(os.environ.get("RANK", "0")) == 0
    metrics = train(method, params, train_set, read_split(data_dir / "validation.jsonl"), paths,
                    is_main)
    return (f"train {method}: {metrics['train_steps']} steps in {metrics['train_seconds']} s, "
            f"validation loss {metrics['validation_loss']}, peak memory {metrics['peak_memory_mb']} MB")
