"""The numeric data of the default corpus: year questions (from the dated descriptions) and
cloze questions (a year blanked in an article's sentence), split by document exactly as the
grounded conversations are, as ChatML rows whose prompts carry a context: nothing, retrieved
sources, solved training questions, or sources and examples. A messages file's rows keep
their own prompts."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybridrag.answers.prompt import Source
from hybridrag.config import NumericContext as Context
from hybridrag.config import NumericContextParams, NumericDataParams
from hybridrag.jsonl import RowPolicy
from hybridrag.numeric.examples import Encode, ExampleIndex, Neighbours
from hybridrag.numeric.in_text import in_text_questions
from hybridrag.numeric.rows import (
    OWN_PROMPTS,
    NumericRow,
    SolvedExample,
    question_row,
    read_numeric_rows,
    share_in_context,
)
from hybridrag.numeric.years import YearQuestion, stated_in, year_questions
from hybridrag.records import Dataset
from hybridrag.sft.grounded import held_out_documents, judged_documents, sample, split_rng

Retrieve = Callable[[str], Sequence[Source]]  # a question -> its numbered sources
Splits = dict[str, list[NumericRow]]  # "train", "validation", "test/<set>/<context>"
QuestionSource = Callable[[str], Iterable[YearQuestion]]  # a split -> its questions


@dataclass(frozen=True)
class YearSplits:
    train: list[YearQuestion]  # the rows the models fine-tune on: a seeded subset of `pool`
    validation: list[YearQuestion]
    test: list[YearQuestion]
    pool: list[YearQuestion]  # every training-split question: the solved examples to search

    def counts(self) -> dict[str, Any]:
        return {name: {"questions": len(part), "documents": len({q.doc_id for q in part}),
                       "kinds": dict(sorted(Counter(q.question_id.rsplit("#", 1)[1]
                                                    for q in part).items()))}
                for name, part in (("train", self.train), ("validation", self.validation),
                                   ("test", self.test), ("pool", self.pool))}


def split_question_sets(dataset: Dataset, sources: dict[str, QuestionSource],
                        validation_fraction: float, seed: int,
                        limits: tuple[int | None, int | None, int | None]) -> dict[str, YearSplits]:
    """Each question set split by document as the grounded conversations are: training
    questions from documents judged in no other split, one seeded share of those documents (the
    same for every set) held out for validation, test from the test split; then seeded subsets
    of at most `limits` (train, validation, test) questions per set. Each set's `pool` keeps
    all its training questions, in a seeded order (BM25 ties between template questions then
    fall at random, not on the alphabetically first)."""
    judged = judged_documents(dataset)
    elsewhere = {d for split, qrels in judged.items() if split != "train"
                 for docs in qrels.values() for d in docs}
    pools = {name: [q for q in source("train") if q.doc_id not in elsewhere]
             for name, source in sources.items()}
    held = held_out_documents((q.doc_id for pool in pools.values() for q in pool),
                              validation_fraction, seed)
    result = {}
    for name, source in sources.items():
        parts = {"train": [q for q in pools[name] if q.doc_id not in held],
                 "validation": [q for q in pools[name] if q.doc_id in held],
                 "test": list(source("test"))}
        # the years set keeps the generators it had alone, so its test questions stay the same
        result[name] = YearSplits(*(
            sample(parts[part], limit, split_rng(seed, part if name == "years" else f"{name}:{part}"))
            for part, limit in zip(("train", "validation", "test"), limits, strict=True)),
            pool=sample(parts["train"], None, split_rng(seed, f"{name}:pool")))
    return result


def corpus_question_sets(settings: NumericDataParams, dataset: Dataset) -> dict[str, YearSplits]:
    """The year questions of the corpus's dated descriptions and, when `in_text` is set, the
    cloze questions of its articles' sentences. `stated_only` keeps the year questions whose
    article text gives the year, so a retrieved source can answer them."""
    documents = {d.doc_id: d for d in dataset.documents}
    sources: dict[str, QuestionSource] = {"years": lambda split: (
        q for q in year_questions(dataset, split)
        if not settings.stated_only or stated_in(documents[q.doc_id], q.target))}
    if settings.in_text:
        sources["in_text"] = lambda split: in_text_questions(dataset, split, settings.seed)
    return split_question_sets(dataset, sources, settings.validation_fraction, settings.seed,
                               (settings.max_train, settings.max_validation, settings.max_test))


def context_rows(questions: Sequence[YearQuestion], contexts: Sequence[Context],
                 retrieve: Retrieve, examples: ExampleIndex, settings: NumericContextParams
                 ) -> list[NumericRow]:
    """One row per question with its context: retrieved sources, solved examples (its nearest
    training questions, never from its own document), both, or nothing."""
    def neighbours(by: Neighbours, wanted: tuple[Context, ...]) -> dict[int, list[SolvedExample]]:
        chosen = [i for i, context in enumerate(contexts) if context in wanted]
        found = examples.nearest([questions[i].question for i in chosen],
                                 [questions[i].doc_id for i in chosen], settings.examples, by)
        return dict(zip(chosen, found, strict=True))

    semantic = neighbours("semantic", ("semantic", "both"))
    keyword = neighbours("keyword", ("keyword",))
    return [question_row(question, context,
                         retrieve(question.question) if context in ("sources", "both") else (),
                         semantic.get(i) or keyword.get(i) or ())
            for i, (question, context) in enumerate(zip(questions, contexts, strict=True))]


def corpus_rows(settings: NumericDataParams, context: NumericContextParams, dataset: Dataset,
                retrieve: Retrieve, encode: Encode) -> tuple[Splits, dict[str, Any]]:
    """The corpus's question sets as rows: each training and validation question with one of
    `context.train` (seeded), every test question once per context of `context.evaluate`.
    Solved examples come from the training questions of every set: all of the split's
    (`context.example_pool` "split") or only the rows the models fine-tune on ("rows")."""
    sets = corpus_question_sets(settings, dataset)
    solved = [q for splits in sets.values()
              for q in (splits.pool if context.example_pool == "split" else splits.train)]
    examples = ExampleIndex([SolvedExample(q.question, q.target, q.doc_id) for q in solved],
                            encode)
    try:
        rng = split_rng(settings.seed, "context")
        rows: Splits = {}
        for part in ("train", "validation"):
            questions = [q for splits in sets.values() for q in getattr(splits, part)]
            rows[part] = context_rows(questions, [rng.choice(context.train) for _ in questions],
                                      retrieve, examples, context)
        for name, splits in sets.items():
            for kind in context.evaluate:
                rows[f"test/{name}/{kind}"] = context_rows(
                    splits.test, [kind] * len(splits.test), retrieve, examples, context)
    finally:
        examples.close()
    return rows, {"source": "corpus_years", "stated_only": settings.stated_only,
                  "sets": {name: splits.counts() for name, splits in sets.items()},
                  "solved_examples": {"pool": context.example_pool, "questions": len(solved)},
                  "rows": {name: len(part) for name, part in rows.items()},
                  "train_contexts": dict(sorted(Counter(r.context for r in rows["train"]).items())),
                  "answer_in_context": {name: share_in_context(part) for name, part in rows.items()
                                        if name.startswith("test/") and not name.endswith("/none")}}


def file_rows(settings: NumericDataParams) -> tuple[Splits, dict[str, Any]]:
    """A messages JSONL file's rows (their own prompts, no retrieval), split by seeded shares."""
    policy = RowPolicy(settings.on_error)
    rows = list(read_numeric_rows(str(settings.path), policy))
    policy.warn_if_skipped()
    if not rows:
        raise ValueError(f"numeric.data: {settings.path} gave no usable row")
    order = list(range(len(rows)))
    random.Random(settings.seed).shuffle(order)
    test_n = round(settings.test_fraction * len(rows))
    validation_n = round(settings.validation_fraction * len(rows))
    test = [rows[i] for i in order[:test_n]]
    validation = [rows[i] for i in order[test_n:test_n + validation_n]]
    train = [rows[i] for i in order[test_n + validation_n:]]
    limits = (settings.max_train, settings.max_validation, settings.max_test)
    train, validation, test = (part[:limit] if limit is not None else part
                               for part, limit in zip((train, validation, test), limits, strict=True))
    split: Splits = {"train": train, "validation": validation, f"test/messages/{OWN_PROMPTS}": test}
    return split, {"source": "messages", "path": settings.path, **policy.summary(),
                   "rows": {name: len(part) for name, part in split.items()}}


def write_numeric_data(rows: Splits, summary: dict[str, Any], out: Path, metrics: Path) -> None:
    """One JSONL file per split, swapped in atomically, and the counts as metrics JSON."""
    from hybridrag.atomic import atomic_directory
    from hybridrag.jsonl import write_jsonl
    from hybridrag.reporting import write_json

    with atomic_directory(out) as staging:
        for name, part in rows.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            write_jsonl(staging / f"{name}.jsonl", (row.as_json() for row in part))
    write_json(metrics, summary)
