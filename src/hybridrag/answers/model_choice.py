"""The evidence for choosing the product's chat model and setting (stage choose_gate): every
trained chat model answers the same validation items, and `product_policies` scores each model's
replies under every gate cap and fallback. `answers.chat_model` stays a param, chosen by hand
from these tables; `best_setting` applies the rule its default was chosen by."""

from __future__ import annotations

import gc
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hybridrag.answers.gate import REPORTED_CAPS
from hybridrag.answers.policy import product_policies
from hybridrag.answers.prompt import build_prompt
from hybridrag.answers.scoring import GroundedItem, SentenceScorer
from hybridrag.chat.models import load_trained, run_kind
from hybridrag.chat.runtime import load_generator, run_generator
from hybridrag.config import SFT_METHODS, AnswersParams
from hybridrag.layout import DPO, chat_model_folder


def trained_chat_models(configured: str, base_dir: Path, sft_dir: Path, dpo_dir: Path
                        ) -> list[str]:
    """The chat models to compare: `configured` first, then every SFT method and DPO whose run
    was trained (not skipped)."""
    return [configured, *(name for name in (*SFT_METHODS, DPO) if name != configured and run_kind(
        chat_model_folder(name, base_dir, sft_dir, dpo_dir)) != "skipped")]


def gate_caps(configured: float) -> tuple[float, ...]:
    """The false-abstention caps the tables score: the reported ones and the configured one."""
    return tuple(sorted({*REPORTED_CAPS, configured}))


def chat_model_tables(names: Sequence[str], items: Sequence[GroundedItem],
                      gate_scores: Sequence[float], score: SentenceScorer,
                      answers: AnswersParams, tokenizer: Any, base_dir: Path, sft_dir: Path,
                      dpo_dir: Path, chat_export: Path
                      ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Each chat model's `product_policies` table over `items` (their `gate_scores`) under
    `gate_caps`, and the runtime each answered on: `answers.chat_model` from its export
    (`chat_export`, export_chat's), the others exported here in answers.precision as
    infer_compare exports them (prompt and prefix tuning on transformers; `tokenizer`, the base
    model's), one model in memory at a time."""
    prompts = [build_prompt(item.question, item.sources) for item in items]
    tables, runtimes = {}, {}
    with tempfile.TemporaryDirectory(prefix="hybridrag-chat-models-") as work:
        for name in names:
            folder = chat_model_folder(name, base_dir, sft_dir, dpo_dir)
            generator = (load_generator(folder, base_dir, answers.runtime, answers.precision,
                                        chat_export, answers.device)
                         if name == answers.chat_model else
                         run_generator(folder, base_dir, answers.runtime, answers.precision,
                                       Path(work) / name,
                                       load_trained(folder, base_dir, answers.device), tokenizer))
            replies = generator.replies(prompts, answers.max_new_tokens, answers.batch_size)
            tables[name] = product_policies(items, replies, gate_scores, answers.attribute,
                                            score, gate_caps(answers.gate_max_false_abstention))
            runtimes[name] = f"{generator.runtime} {generator.precision}"
            del generator
            gc.collect()
    return tables, runtimes


def beats_configured(best: Mapping[str, Any] | None, tables: Mapping[str, Mapping[str, Any]],
                     chat_model: str, setting: str) -> bool:
    """Whether `best` (`best_setting` of `tables`) scores a higher overall F1 than the
    configured model and setting (or the configured setting has none): a tie (two settings that
    answer alike) is not worth a change."""
    if best is None:
        return False
    configured = tables[chat_model][setting]["overall_f1"]
    return configured is None or best["overall_f1"] > configured
