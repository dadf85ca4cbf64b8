"""The infer_compare stage: base, every fine-tuned model and DPO answer the same held-out grounded
questions (test-split documents, sources in the retriever's order, each question also without
its relevant source; or reading questions on test articles), scored by the one scorer, beside
the retriever-only baselines "always cite source [1]" and (reading) the cross-encoder's best
sentence, and the product (the default model's replies as `hybridrag ask` shows them: the
answerability gate, citations moved to the evidence, answers.on_model_abstention), with paired
differences against the base model and the extractive baseline."""

from __future__ import annotations

import gc
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybridrag.answers.attribution import attribute
from hybridrag.answers.gate import Gate, best_source_scores
from hybridrag.answers.policy import shown_replies
from hybridrag.answers.prompt import CITATION, build_prompt
from hybridrag.answers.scoring import (
    BASELINE,
    EXTRACTIVE,
    GroundedItem,
    ReplyScore,
    SentenceScorer,
    extractive_reply,
    score_reply,
    summarize,
    top_source_reply,
)
from hybridrag.chat.generation import ChatGenerator, Generated
from hybridrag.chat.models import load_tokenizer, load_trained
from hybridrag.chat.runtime import run_generator
from hybridrag.config import SFT_METHODS, AnswersParams, CompareParams, SftParams
from hybridrag.metrics.bootstrap import mean_difference
from hybridrag.sft.reply_cache import CachedGenerator, ReplyCache, model_fingerprint

if TYPE_CHECKING:
    from hybridrag.search.rerank import Reranker
from hybridrag.metrics.rouge import rouge_l, rouge_tokens

PAIRED_METRICS = ("cites_relevant", "names_title", "abstains_unanswerable", "well_formed")
READING_METRICS = ("f1", "overall_f1")  # paired too when the held-out items are reading ones


@dataclass(frozen=True)
class HeldOut:
    """The test rows as the comparison reads them: questions in order, each with its no-answer
    variant (when it has one) right after it."""

    items: list[GroundedItem]
    question_of: list[str]  # the question (query id) each item belongs to
    conversations: list[list[dict[str, str]]]  # the reference conversations, for the loss

    @property
    def reading(self) -> bool:
        """Reading items (gold answer spans): judged on SQuAD F1 first."""
        return any(item.answers is not None for item in self.items)

    @property
    def main_metric(self) -> str:
        """What picks the best model: SQuAD 2.0 overall F1 for reading, else cites-relevant."""
        return "overall_f1" if self.reading else "cites_relevant"

    @property
    def paired_metrics(self) -> tuple[str, ...]:
        return (*READING_METRICS, *PAIRED_METRICS) if self.reading else PAIRED_METRICS

    def first(self, questions: int) -> list[int]:
        """Indices of the items of the first `questions` questions."""
        wanted = list(dict.fromkeys(self.question_of))[:questions]
        keep = set(wanted)
        return [i for i, q in enumerate(self.question_of) if q in keep]


def held_out(rows: Sequence[dict[str, Any]]) -> HeldOut:
    from hybridrag.sft.grounded import item_from_row

    return HeldOut([item_from_row(r) for r in rows],
                   [r["meta"]["variant_of"] or r["meta"]["query_id"] for r in rows],
                   [r["messages"] for r in rows])


@dataclass
class ModelAnswers:
    indices: list[int]  # which held-out items were answered
    replies: list[str]
    scores: list[ReplyScore]


def answer_items(generator: ChatGenerator, items: Sequence[GroundedItem], indices: list[int],
                 answers: AnswersParams) -> ModelAnswers:
    prompts = [build_prompt(items[i].question, items[i].sources) for i in indices]
    replies = generator.replies(prompts, answers.max_new_tokens, answers.batch_size)
    return ModelAnswers(indices, [r.text for r in replies],
                        [score_reply(items[i], r.text, r.stopped)
                         for i, r in zip(indices, replies, strict=True)])


def baseline_answers(items: Sequence[GroundedItem], indices: list[int],
                     scorer: SentenceScorer | None = None) -> ModelAnswers:
    """"Always cite [1]"'s replies, or with `scorer` the extractive baseline's."""
    replies = [top_source_reply(items[i]) if scorer is None else extractive_reply(items[i], scorer)
               for i in indices]
    return ModelAnswers(indices, replies, [score_reply(items[i], text, True)
                                           for i, text in zip(indices, replies, strict=True)])


def position_following(items: Sequence[GroundedItem], model: ModelAnswers) -> dict[str, float | None]:
    """Whether a model reads its sources or cites by position, over the answerable items it
    answered: the share of replies citing [1] (`cites_first`), and cites-relevant on the items
    whose relevant source is not [1] (`cites_relevant_not_first`; "always cite [1]" scores 0)."""
    answerable = [(items[i], s) for i, s in zip(model.indices, model.scores, strict=True)
                  if items[i].answerable]
    below = [s.cites_relevant for item, s in answerable if 1 not in item.relevant]
    return {"cites_first": round(statistics.fmean(1 in s.cited for _, s in answerable), 4)
            if answerable else None,
            "cites_relevant_not_first": round(statistics.fmean(below), 4) if below else None,
            "relevant_not_first": len(below)}


def evidence_citations(items: Sequence[GroundedItem], model: ModelAnswers
                       ) -> dict[str, float | None]:
    """cites-relevant once each reply's citation is moved to the source holding its answer
    (answers.attribution, what the product shows with answers.attribute), over the answerable
    items the model answered."""
    flags = [score_reply(items[i], attribute(reply, items[i].sources), score.stopped).cites_relevant
             for i, reply, score in zip(model.indices, model.replies, model.scores, strict=True)
             if items[i].answerable]
    return {"cites_relevant_evidence": round(statistics.fmean(flags), 4) if flags else None}


PRODUCT = "product"  # the default model answering as the product does (ProductPolicy)


def best_sources(item: GroundedItem, score: SentenceScorer, count: int
                 ) -> tuple[GroundedItem, tuple[int, ...]]:
    """`item` as the product reads it: the `count` of its sources that `score` ranks best for
    the question, best first (ties in the item's order), numbered again from 1 (its relevant
    numbers follow them; none when none is kept); and the numbers they have in `item`."""
    scores = score(item.question, [s.text for s in item.sources])
    kept = [item.sources[i]
            for i in sorted(range(len(item.sources)), key=lambda i: -scores[i])[:count]]
    relevant = tuple(new for new, s in enumerate(kept, 1) if s.number in item.relevant)
    return (replace(item, sources=tuple(replace(s, number=new) for new, s in enumerate(kept, 1)),
                    relevant=relevant, titles=item.titles if relevant else ()),
            tuple(s.number for s in kept))


def renumbered(reply: str, numbers: Sequence[int]) -> str:
    """`reply` with each citation [n] of the n-th source read written as the number that source
    has in the item (`numbers[n - 1]`); a number it was not shown becomes [0], which cites
    nothing there either."""
    def number(cited: re.Match[str]) -> str:
        n = int(cited[1])
        return f"[{numbers[n - 1] if 1 <= n <= len(numbers) else 0}]"

    return CITATION.sub(number, reply)


@dataclass(frozen=True)
class ProductPolicy:
    """How the product turns the default model's replies into answers: the gate (its threshold,
    None when off, and the scorer of its best source), answers.attribute, answers.
    on_model_abstention and the cross-encoder that picks the extractive answer, and reorders an
    item's sources when the product reads fewer of them (answers.sources)."""

    threshold: float | None
    gate_scorer: SentenceScorer
    settings: AnswersParams
    sentence_scorer: SentenceScorer

    @classmethod
    def of(cls, gate: Gate | None, reranker: Reranker, settings: AnswersParams) -> ProductPolicy:
        """The policy `hybridrag ask` applies with `gate` (None: off): its threshold on its
        classifier's scores, or on the reranker's without one; the reranker picks the extractive
        answer and the sources read."""
        return cls(gate.threshold if gate else None,
                   (gate.classifier or reranker).scores if gate else reranker.scores,
                   settings, reranker.scores)

    def answers(self, items: Sequence[GroundedItem], model: ModelAnswers,
                generator: ChatGenerator | None = None) -> ModelAnswers:
        """The product's answers to the `items` the default model answered (`model`). An item
        with more sources than answers.sources (three given sources) is read as `hybridrag ask`
        reads retrieved ones: its answers.sources best by the reranker (`best_sources`), which
        `generator` answers again; their citations are numbered back as the item lists its
        sources, and every reply is scored against the item."""
        asked = [items[i] for i in model.indices]
        read: list[tuple[GroundedItem, tuple[int, ...] | None]] = [(item, None) for item in asked]
        replied = model
        if any(len(item.sources) > self.settings.sources for item in asked):
            if generator is None:
                raise ValueError(f"the product reads {self.settings.sources} source(s) "
                                 "(answers.sources) of items with more: it needs the generator")
            read = [best_sources(item, self.sentence_scorer, self.settings.sources)
                    for item in asked]
            replied = answer_items(generator, [r for r, _ in read], list(range(len(read))),
                                   self.settings)
        replies = [Generated(r, s.stopped) for r, s in zip(replied.replies, replied.scores,
                                                           strict=True)]
        seen = [r for r, _ in read]
        shown = shown_replies(seen, replies,
                              best_source_scores(seen, self.gate_scorer)
                              if self.threshold is not None else [0.0] * len(seen),
                              self.threshold, self.settings.attribute,
                              self.settings.on_model_abstention, self.sentence_scorer)
        texts = [s.text if numbers is None else renumbered(s.text, numbers)
                 for s, (_, numbers) in zip(shown, read, strict=True)]
        return ModelAnswers(model.indices, texts,
                            [score_reply(item, text, s.stopped)
                             for item, text, s in zip(asked, texts, shown, strict=True)])


def answer_rates(items: Sequence[GroundedItem], model: ModelAnswers) -> dict[str, float | None]:
    """The scorer's rates over the items a model answered, how much it cites by position, and
    how often its citation, moved to the evidence, is the relevant source."""
    return {**summarize([items[i] for i in model.indices], model.scores),
            **position_following(items, model), **evidence_citations(items, model)}


def per_item_flags(item: GroundedItem, score: ReplyScore) -> dict[str, float | None]:
    """The paired metrics of one item (None where the metric does not apply to it)."""
    reading = item.answers is not None
    return {"cites_relevant": float(score.cites_relevant) if item.answerable else None,
            "names_title": float(score.names_title) if item.answerable and item.titles else None,
            "f1": score.f1 if reading and item.answers else None,
            "overall_f1": score.f1 if reading else None,
            "abstains_unanswerable": None if item.answerable else float(score.abstained),
            "well_formed": float(score.well_formed)}


def paired_difference(model: ModelAnswers, base: ModelAnswers, items: Sequence[GroundedItem],
                      metric: str, resamples: int, seed: int) -> dict[str, Any] | None:
    """Mean per-item difference (model - base) on the items both answered, with a 95%
    bootstrap interval; None when no shared item has the metric."""
    base_scores = dict(zip(base.indices, base.scores, strict=True))
    pairs = []
    for index, score in zip(model.indices, model.scores, strict=True):
        if index in base_scores:
            mine = per_item_flags(items[index], score)[metric]
            theirs = per_item_flags(items[index], base_scores[index])[metric]
            if mine is not None and theirs is not None:
                pairs.append(mine - theirs)
    return mean_difference(pairs, resamples, seed)


def last_reply_scores(generator: ChatGenerator, conversations: Sequence[list[dict[str, str]]],
                      answers: AnswersParams) -> dict[str, float]:
    """Conversations without grounding (a converted source): each one's last reply generated
    again and compared with the human one (ROUGE-L), its length, whether it ended."""
    replies = generator.replies([c[:-1] for c in conversations], answers.max_new_tokens,
                                answers.batch_size)
    return {"rouge_l": round(statistics.fmean(rouge_l(r.text, c[-1]["content"])
                                              for r, c in zip(replies, conversations, strict=True)), 4),
            "reply_words": round(statistics.fmean(len(rouge_tokens(r.text)) for r in replies), 2),
            "stopped": round(statistics.fmean(r.stopped for r in replies), 4)}


@dataclass
class Comparison:
    """One held-out set's comparison: per model (and baseline) its rates and paired differences,
    its answers, and the items (None for conversations without grounding)."""

    results: dict[str, Any]
    answered: dict[str, ModelAnswers]
    data: HeldOut | None


def compared_models(base_dir: Path, sft_dir: Path, dpo_dir: Path, methods: Sequence[str]
                    ) -> dict[str, Path]:
    """The models infer_compare compares, in its order: base, each SFT method of `methods`
    (in SFT_METHODS' order), DPO."""
    return {"base": base_dir, **{m: sft_dir / m for m in SFT_METHODS if m in methods},
            "dpo": dpo_dir}


def compare_models(models: dict[str, Path], base_dir: Path,
                   row_sets: Mapping[str, Sequence[dict[str, Any]]], params: SftParams,
                   answers: AnswersParams, default: str, progress: bool = True,
                   sentence_scorer: SentenceScorer | None = None,
                   product: ProductPolicy | None = None,
                   reply_cache: ReplyCache | None = None) -> dict[str, Comparison]:
    """Every model's answers to every held-out set of rows (the base model and the product's
    default on `compare.questions` questions, the others on `compare.other_questions`), each
    model loaded and exported once for all sets; its held-out loss on the first set's
    conversations (recorded there); the baselines, and the paired differences against base
    (reading items: also against the extractive baseline, which `sentence_scorer` drives); with
    `product`, the product's answers from the default model (row `PRODUCT`; where it reads fewer
    sources than an item has, the default model answers again). Rows
    without grounding (a converted source) get their last replies generated again. With
    `reply_cache`, greedy replies already generated by the same model (a run stopped part-way)
    are read from it, not generated again.
    `eval_seconds`: loading, export and loss count towards the first set."""
    from hybridrag.sft.evaluation import heldout_scores

    settings: CompareParams = params.compare
    sets = {name: (list(rows), held_out(rows) if all("meta" in r for r in rows) else None)
            for name, rows in row_sets.items()}
    first_set = next(iter(sets))
    tokenizer = load_tokenizer(base_dir)
    results: dict[str, dict[str, Any]] = {name: {} for name in sets}
    answered: dict[str, dict[str, ModelAnswers]] = {name: {} for name in sets}
    work = Path(tempfile.mkdtemp(prefix="hybridrag-compare-"))  # exports, one model at a time
    for name, folder in models.items():
        started = time.perf_counter()
        model = load_trained(folder, base_dir, params.train.device)
        conversations = [r["messages"] for r in sets[first_set][0][:settings.loss_conversations]]
        loss = heldout_scores(model, tokenizer, conversations, params.train.max_length,
                              settings.batch_size)
        generator: ChatGenerator = run_generator(Path(folder), Path(base_dir), answers.runtime,
                                                 answers.precision, work / name, model, tokenizer)
        if reply_cache is not None:
            generator = CachedGenerator(generator, reply_cache, model_fingerprint(
                [Path(folder), Path(base_dir)], generator.runtime, generator.precision))
        questions = settings.questions if name in ("base", default) else settings.other_questions
        for set_name, (rows, data) in sets.items():
            if data is not None:
                answered[set_name][name] = answer_items(generator, data.items,
                                                        data.first(questions), answers)
                replies = answer_rates(data.items, answered[set_name][name])
            else:
                replies = last_reply_scores(generator, [r["messages"] for r in rows[:questions]],
                                            answers)
            results[set_name][name] = {
                **replies, "questions": questions, **(loss if set_name == first_set else {}),
                "runtime": f"{generator.runtime} {generator.precision}",
                "eval_seconds": round(time.perf_counter() - started, 1)}
            started = time.perf_counter()
            if product is not None and name == default and data is not None:
                shown = product.answers(data.items, answered[set_name][name], generator)
                answered[set_name][PRODUCT] = shown
                results[set_name][PRODUCT] = {
                    **answer_rates(data.items, shown), "questions": questions,
                    "eval_seconds": round(time.perf_counter() - started, 1)}
                started = time.perf_counter()
            if progress:
                print(f"{set_name}: {name:>14}: {results[set_name][name]}")
        del model, generator
        gc.collect()
        shutil.rmtree(work / name, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    comparisons = {}
    for set_name, (_, data) in sets.items():
        if data is not None:
            add_baselines(results[set_name], answered[set_name], data, list(models), settings,
                          sentence_scorer)
        comparisons[set_name] = Comparison(results[set_name], answered[set_name], data)
    return comparisons


def add_baselines(results: dict[str, Any], answered: dict[str, ModelAnswers], data: HeldOut,
                  models: list[str], settings: CompareParams,
                  sentence_scorer: SentenceScorer | None) -> None:
    """The retriever-only baselines' answers and rates, then every model's, baseline's and the
    product's (when answered) paired differences against base (and against the extractive
    baseline on reading metrics)."""
    baselines = {BASELINE: None, **({EXTRACTIVE: sentence_scorer}
                                    if data.reading and sentence_scorer is not None else {})}
    for name, scorer in baselines.items():
        answered[name] = baseline_answers(data.items, data.first(settings.questions), scorer)
        results[name] = {**answer_rates(data.items, answered[name]), "questions": settings.questions}
    shown = [PRODUCT] if PRODUCT in answered else []
    for name in [*models, *baselines, *shown]:
        for other, key, metrics in (("base", "vs_base", data.paired_metrics),
                                    (EXTRACTIVE, "vs_extractive", READING_METRICS)):
            if name != other and other in answered:
                results[name][key] = {
                    metric: paired_difference(answered[name], answered[other], data.items,
                                              metric, settings.bootstrap, settings.seed)
                    for metric in metrics}


def against_best(results: dict[str, Any], answered: dict[str, ModelAnswers], data: HeldOut,
                 best: str, settings: CompareParams) -> None:
    """Every other trained model's paired differences against `best` (`best_model`) on the
    paired metrics, over the questions both answered (`vs_best` in its results): whether the
    best stands apart from the other methods or only ranks first. Base and the baselines have
    theirs against base."""
    for name in answered:
        if name in (best, "base", BASELINE, EXTRACTIVE, PRODUCT):
            continue
        results[name]["vs_best"] = {
            metric: paired_difference(answered[name], answered[best], data.items, metric,
                                      settings.bootstrap, settings.seed)
            for metric in data.paired_metrics}


def best_model(answered: dict[str, ModelAnswers], data: HeldOut, questions: int
               ) -> tuple[str, dict[str, tuple[float, float]]]:
    """The model with the highest main metric (`HeldOut.main_metric`) on the questions every
    model answered (the first `questions`), ties broken by well-formed replies; and each model's
    (main metric, well-formed) there."""
    shared = set(data.first(questions))
    scores = {}
    for name, model in answered.items():
        if name in (BASELINE, EXTRACTIVE, PRODUCT):
            continue
        kept = [(data.items[i], s) for i, s in zip(model.indices, model.scores, strict=True)
                if i in shared]
        summary = summarize([i for i, _ in kept], [s for _, s in kept])
        scores[name] = (summary[data.main_metric] or 0.0, summary["well_formed"] or 0.0)
    best = max(scores, key=lambda name: scores[name])
    return best, scores
