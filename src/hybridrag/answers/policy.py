"""What the product shows for a generated reply, and the choice of how on validation. The reply's
citation follows the evidence (answers.attribute); when the model abstains on a question the
gate let through, `answers.on_model_abstention: extractive` shows the cross-encoder's best
sentence of the sources instead, cited, so that abstaining is the gate's decision alone (`keep`
shows the model's abstention). `product_policies` scores every pairing of a gate cap with a
fallback on the same replies, and `best_setting` applies the rule the defaults follow to those
tables of every chat model, which is how choose_gate reports the choice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, get_args

from hybridrag.answers.attribution import attribute
from hybridrag.answers.gate import REPORTED_CAPS, choose_threshold
from hybridrag.answers.prompt import NO_ANSWER, Source
from hybridrag.answers.scoring import (
    GroundedItem,
    SentenceScorer,
    abstains,
    extractive_answer,
    score_reply,
    summarize,
)
from hybridrag.chat.generation import Generated
from hybridrag.config import OnModelAbstention

FALLBACKS: tuple[OnModelAbstention, ...] = get_args(OnModelAbstention)
POLICY_METRICS = ("overall_f1", "f1", "abstains_unanswerable", "false_abstention",
                  "cites_relevant", "well_formed")


@dataclass(frozen=True)
class Shown:
    """The reply as the product shows it."""

    text: str
    stopped: bool
    extracted: bool  # the model abstained past the gate: the text is the extractive answer


def shown_reply(question: str, sources: Sequence[Source], reply: Generated, attributed: bool,
                on_model_abstention: OnModelAbstention, score: SentenceScorer | None) -> Shown:
    """`reply` with its citation moved to the evidence when `attributed`; an abstention replaced
    by the extractive answer when `on_model_abstention` is `extractive` and a cross-encoder
    (`score`) is at hand."""
    if on_model_abstention == "extractive" and score is not None and abstains(reply.text):
        extracted = extractive_answer(question, sources, score)
        if extracted:
            return Shown(extracted, True, True)
    return Shown(attribute(reply.text, sources) if attributed else reply.text, reply.stopped,
                 False)


def shown_replies(items: Sequence[GroundedItem], replies: Sequence[Generated],
                  gate_scores: Sequence[float], threshold: float | None, attributed: bool,
                  on_model_abstention: OnModelAbstention, score: SentenceScorer | None
                  ) -> list[Shown]:
    """What the product shows for each item: the abstention where its gate score is below
    `threshold` (None: no gate), else `shown_reply`."""
    return [Shown(NO_ANSWER, True, False) if threshold is not None and gate < threshold
            else shown_reply(item.question, item.sources, reply, attributed,
                             on_model_abstention, score)
            for item, reply, gate in zip(items, replies, gate_scores, strict=True)]


def policy_rates(items: Sequence[GroundedItem], replies: Sequence[Generated],
                 gate_scores: Sequence[float], threshold: float | None, attributed: bool,
                 on_model_abstention: OnModelAbstention, score: SentenceScorer
                 ) -> dict[str, float | None]:
    """The one scorer's rates of `shown_replies`."""
    shown = shown_replies(items, replies, gate_scores, threshold, attributed,
                          on_model_abstention, score)
    return summarize(items, [score_reply(item, s.text, s.stopped)
                             for item, s in zip(items, shown, strict=True)])


def policy_key(cap: float | None, fallback: OnModelAbstention) -> str:
    """A product setting's name in `product_policies`: "no gate, keep", "gate 0.15, extractive"."""
    return f"{'no gate' if cap is None else f'gate {cap:g}'}, {fallback}"


def product_policies(items: Sequence[GroundedItem], replies: Sequence[Generated],
                     gate_scores: Sequence[float], attributed: bool, score: SentenceScorer,
                     caps: Sequence[float] = REPORTED_CAPS) -> dict[str, dict[str, Any]]:
    """For no gate and a gate chosen under each false-abstention cap (on these items), with
    each fallback: the threshold and `POLICY_METRICS`. Keys: "no gate, keep", "gate 0.1,
    extractive", ..."""
    answerable = [g for g, item in zip(gate_scores, items, strict=True) if item.answerable]
    unanswerable = [g for g, item in zip(gate_scores, items, strict=True) if not item.answerable]
    gates = {None: None, **{cap: choose_threshold(answerable, unanswerable, cap) for cap in caps}}
    table = {}
    for cap, threshold in gates.items():
        for fallback in FALLBACKS:
            rates = policy_rates(items, replies, gate_scores, threshold, attributed, fallback,
                                 score)
            table[policy_key(cap, fallback)] = {"threshold": threshold,
                                                **{m: rates.get(m) for m in POLICY_METRICS}}
    return table


def best_setting(tables: Mapping[str, Mapping[str, Mapping[str, Any]]],
                 max_false_abstention: float) -> dict[str, Any] | None:
    """Of every chat model's `product_policies` table (`tables`: model -> table), the model and
    setting with the highest overall F1 among those whose false abstention stays within
    `max_false_abstention` (the first listed wins a tie), with its rates; None when none does."""
    within = [(rates["overall_f1"], model, setting)
              for model, table in tables.items() for setting, rates in table.items()
              if rates.get("overall_f1") is not None and rates.get("false_abstention") is not None
              and rates["false_abstention"] <= max_false_abstention]
    if not within:
        return None
    _, model, setting = max(within, key=lambda entry: entry[0])
    return {"chat_model": model, "setting": setting, **tables[model][setting]}
