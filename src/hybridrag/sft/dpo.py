"""Preference tuning of an SFT model with TRL's DPOTrainer and a LoRA adapter.

Pairs come from the training split: chosen is the reference grounded reply; rejected are the
SFT model's own sampled replies that the scorer marks wrong (wrong or missing citation, wrong
title, a reading reply's wrong span, answering when the sources lack the answer, abstaining when
they hold it, not stopping). Prompts where no sample was
wrong get, for a share of them, a synthetic corruption of the reference instead: a wrong
citation number, or an answer where the reference abstains. Pairs that teach abstaining (chosen
abstains) and pairs that teach answering (rejected abstains) can be balanced, so that the data
carries no preference for abstention as such, only for abstaining on the right questions.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybridrag.answers.prompt import NO_ANSWER, cited_sentence, sentences
from hybridrag.answers.scoring import GroundedItem, abstains, score_reply
from hybridrag.chat.generation import ChatGenerator, Sampling
from hybridrag.chat.models import load_merged, load_tokenizer
from hybridrag.chat.runtime import in_memory_generator
from hybridrag.config import AnswersParams, SftParams
from hybridrag.device import pick_device
from hybridrag.reporting import write_json
from hybridrag.sft.memory import PeakMemory
from hybridrag.sft.training import (
    RunPaths,
    TrainingCurves,
    fit,
    latest_checkpoint,
    save_run,
    trainer_arguments,
)

START = "start"  # the SFT run DPO started from, copied into the DPO folder


@dataclass(frozen=True)
class PreferencePair:
    prompt: list[dict[str, str]]  # system (instructions, sources) and user messages
    chosen: str
    rejected: str
    kind: str  # the scorer's first fault of the rejected reply, or synthetic_<fault>


def corrupt(item: GroundedItem, rng: random.Random) -> tuple[str, str] | None:
    """(a wrong reply, its kind) made from the reference: another source's number for an
    answerable item; an answer from a source where the reference abstains."""
    if item.answerable:
        wrong = [s.number for s in item.sources if s.number not in item.relevant]
        if not wrong:
            return None
        right = f"[{item.relevant[0]}]"
        return item.reference.replace(right, f"[{rng.choice(wrong)}]"), "synthetic_wrong_citation"
    source = rng.choice(item.sources)
    return cited_sentence(sentences(source.text)[0], source), "synthetic_answered_unanswerable"


def balance_abstention(pairs: list[PreferencePair], items: Sequence[GroundedItem],
                       prompts: Sequence[list[dict[str, str]]], rng: random.Random
                       ) -> list[PreferencePair]:
    """Make the pairs that teach abstaining (chosen abstains) as many as those that teach
    answering (rejected abstains): first synthetic pairs for the smaller side, from items that
    have none of that side yet (an answerable item's reference over the abstention; an
    abstaining reference over an answer from one of its sources), then a seeded cut of the
    larger side. Without the balance, a model that rarely abstains yields many "answered
    unanswerable" pairs, and DPO learns to abstain on everything."""
    def teaches_abstaining(pair: PreferencePair) -> bool:
        return abstains(pair.chosen)

    def teaches_answering(pair: PreferencePair) -> bool:
        return abstains(pair.rejected)

    to_abstain = [p for p in pairs if teaches_abstaining(p)]
    to_answer = [p for p in pairs if teaches_answering(p)]
    if len(to_abstain) == len(to_answer):
        return pairs
    answering_short = len(to_answer) < len(to_abstain)
    side = teaches_answering if answering_short else teaches_abstaining
    covered = {id(p.prompt) for p in pairs if side(p)}
    added: list[PreferencePair] = []
    for item, prompt in zip(items, prompts, strict=True):
        if abs(len(to_abstain) - len(to_answer)) == len(added):
            break
        if id(prompt) in covered or item.answerable != answering_short:
            continue
        if answering_short:
            added.append(PreferencePair(prompt, item.reference, NO_ANSWER,
                                        "synthetic_false_abstention"))
        else:
            source = rng.choice(item.sources)
            added.append(PreferencePair(prompt, item.reference,
                                        cited_sentence(sentences(source.text)[0], source),
                                        "synthetic_answered_unanswerable"))
    pairs = pairs + added
    smaller = min(sum(map(teaches_abstaining, pairs)), sum(map(teaches_answering, pairs)))
    larger = teaches_abstaining if answering_short else teaches_answering
    cut = {id(p) for p in rng.sample([p for p in pairs if larger(p)],
                                     sum(map(larger, pairs)) - smaller)}
    return [p for p in pairs if id(p) not in cut]


def preference_pairs(items: Sequence[GroundedItem], generator: ChatGenerator, samples: int,
                     sampling: Sampling, max_new_tokens: int, batch_size: int,
                     synthetic_share: float, balance: bool, seed: int
                     ) -> tuple[list[PreferencePair], dict[str, Any]]:
    """Sample `samples` replies per item, keep the wrong ones as rejected (each distinct reply
    once), corrupt the reference for a share of the items without one, and (with `balance`)
    balance the pairs teaching abstaining and answering. Returns the pairs and counts of what
    was generated and kept, by kind."""
    from hybridrag.answers.prompt import build_prompt

    prompts = [build_prompt(item.question, item.sources) for item in items]
    replies = generator.replies(prompts, max_new_tokens, batch_size, sampling, samples)
    rng = random.Random(seed)
    pairs: list[PreferencePair] = []
    faults: Counter[str] = Counter()
    for index, (item, prompt) in enumerate(zip(items, prompts, strict=True)):
        rejected: dict[str, str] = {}
        for reply in replies[index * samples:(index + 1) * samples]:
            found = score_reply(item, reply.text, reply.stopped).faults(item)
            faults.update(found or ["correct"])
            if found and reply.text != item.reference and reply.text not in rejected:
                rejected[reply.text] = found[0]
        if not rejected and rng.random() < synthetic_share:
            corrupted = corrupt(item, rng)
            if corrupted is not None:
                rejected[corrupted[0]] = corrupted[1]
        pairs += [PreferencePair(prompt, item.reference, text, kind) for text, kind in rejected.items()]
    mined = len(pairs)
    if balance:
        pairs = balance_abstention(pairs, items, prompts, rng)
    summary = {"prompts": len(items), "sampled_replies": len(replies),
               "sampled_by_fault": dict(sorted(faults.items())), "mined_pairs": mined,
               "pairs": len(pairs),
               "pairs_by_kind": dict(sorted(Counter(p.kind for p in pairs).items())),
               "pairs_teaching_abstaining": sum(abstains(p.chosen) for p in pairs),
               "pairs_teaching_answering": sum(abstains(p.rejected) for p in pairs),
               "abstaining_references": sum(item.reference == NO_ANSWER for item in items)}
    return pairs, summary


def train_dpo(items: Sequence[GroundedItem], params: SftParams, answers: AnswersParams,
              start_dir: Path, paths: RunPaths) -> dict[str, Any]:
    """Mine preference pairs with the SFT model in `start_dir`, train a LoRA adapter over it
    with DPO (the SFT model is the reference), save adapter and start together; metrics."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer

    settings, run = params.dpo, params.train
    device = pick_device(run.device)
    tokenizer = load_tokenizer(paths.base_model)
    model = load_merged(start_dir, paths.base_model, device)
    rng = random.Random(settings.seed)
    chosen_items = sorted(rng.sample(range(len(items)), min(settings.prompts, len(items))))
    with tempfile.TemporaryDirectory(prefix="hybridrag-dpo-") as work:  # the answers' runtime
        sampler = in_memory_generator(model, tokenizer, answers.runtime, settings.sample_precision,
                                      Path(work) / "start", {"source": str(start_dir)})
        pairs, summary = preference_pairs(
            [items[i] for i in chosen_items], sampler, settings.samples,
            Sampling(settings.temperature, settings.top_p, settings.seed),
            max_new_tokens=answers.max_new_tokens, batch_size=answers.batch_size,
            synthetic_share=settings.synthetic_share, balance=settings.balance_abstention,
            seed=settings.seed)
        summary["sampled_on"] = f"{sampler.runtime} {sampler.precision}"
        del sampler
    if not pairs:
        raise ValueError("DPO: no preference pairs (every sampled reply was right and "
                         "sft.dpo.synthetic_share is 0)")
    fingerprint = {"dpo": settings.model_dump(), "train": run.model_dump(),
                   "start": str(start_dir), "pairs": len(pairs)}
    resume = latest_checkpoint(paths.checkpoints, fingerprint)
    args = DPOConfig(**trainer_arguments(run, device, paths.checkpoints, settings.learning_rate,
                                         settings.max_steps, settings.batch_size),
                     beta=settings.beta, loss_type=[settings.loss_type], eval_strategy="no")
    dataset = Dataset.from_list([{"prompt": p.prompt,
                                  "chosen": [{"role": "assistant", "content": p.chosen}],
                                  "rejected": [{"role": "assistant", "content": p.rejected}]}
                                 for p in pairs]).shuffle(seed=settings.seed)
    memory = PeakMemory(device)
    resume_step = int(resume.rsplit("-", 1)[1]) if resume else 0
    trainer = DPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=LoraConfig(r=settings.r, lora_alpha=settings.alpha,
                                                lora_dropout=settings.dropout,
                                                target_modules="all-linear", task_type="CAUSAL_LM"),
                         callbacks=[memory.callback(), TrainingCurves(paths.live_dir, resume_step)])
    metrics = {"method": "dpo", "start": start_dir.name, **fit(trainer, resume, memory, device),
               "preference_data": summary}
    margins = [h["rewards/margins"] for h in trainer.state.log_history if "rewards/margins" in h]
    metrics["reward_margin_first"] = round(margins[0], 4) if margins else None
    metrics["reward_margin_last"] = round(margins[-1], 4) if margins else None
    save_run(trainer, tokenizer, paths.out_dir,
             {"kind": "dpo", "method": "dpo", "start": START, "started_from": str(start_dir),
              "settings": settings.model_dump()}, extras={START: start_dir})
    write_json(paths.metrics, metrics)
    shutil.rmtree(paths.checkpoints, ignore_errors=True)
    return metrics
