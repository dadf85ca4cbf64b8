"""The numeric data of the default corpus: year questions split by document exactly as the
grounded conversations are (train documents judged in no other split, a seeded share of them
held out for validation, test from the test split), as ChatML rows with or without sources."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybridrag.answers.prompt import Source
from hybridrag.config import NumericDataParams
from hybridrag.jsonl import RowPolicy
from hybridrag.numeric.rows import NumericRow, question_row, read_numeric_rows
from hybridrag.numeric.years import YearQuestion, stated_in, year_questions
from hybridrag.records import Dataset
from hybridrag.sft.grounded import held_out_documents, judged_documents, sample, split_rng

Retrieve = Callable[[str], Sequence[Source]]  # a question -> its numbered sources
Splits = dict[str, list[NumericRow]]  # train, validation, test_none, test_retrieved


@dataclass(frozen=True)
class YearSplits:
    train: list[YearQuestion]
    validation: list[YearQuestion]
    test: list[YearQuestion]

    def counts(self) -> dict[str, Any]:
        return {name: {"questions": len(part), "documents": len({q.doc_id for q in part}),
                       "kinds": dict(sorted(Counter(q.question_id.rsplit("#", 1)[1]
                                                    for q in part).items()))}
                for name, part in (("train", self.train), ("validation", self.validation),
                                   ("test", self.test))}


def split_year_questions(dataset: Dataset, stated_only: bool, validation_fraction: float,
                         seed: int, limits: tuple[int | None, int | None, int | None]
                         ) -> YearSplits:
    """Seeded subsets of at most `limits` (train, validation, test) questions. `stated_only`
    keeps the questions whose article text gives the year, so a retrieved source can answer."""
    documents = {d.doc_id: d for d in dataset.documents}
    judged = judged_documents(dataset)
    elsewhere = {d for split, qrels in judged.items() if split != "train"
                 for docs in qrels.values() for d in docs}

    def kept(split: str) -> list[YearQuestion]:
        return [q for q in year_questions(dataset, split)
                if not (stated_only and not stated_in(documents[q.doc_id], q.target))
                and (split != "train" or q.doc_id not in elsewhere)]

    pool = kept("train")
    held = held_out_documents((q.doc_id for q in pool), validation_fraction, seed)
    parts = {"train": [q for q in pool if q.doc_id not in held],
             "validation": [q for q in pool if q.doc_id in held], "test": kept("test")}
    return YearSplits(*(sample(parts[name], limit, split_rng(seed, name))
                        for name, limit in zip(("train", "validation", "test"), limits,
                                               strict=True)))


def numeric_rows(questions: Sequence[YearQuestion], retrieve: Retrieve | None) -> list[NumericRow]:
    """One row per question: with the sources `retrieve` finds for it, or none."""
    return [question_row(q, retrieve(q.question) if retrieve else []) for q in questions]


def corpus_rows(settings: NumericDataParams, dataset: Dataset, retrieve: Retrieve
                ) -> tuple[Splits, dict[str, Any]]:
    """The corpus's year questions as rows: a seeded `context_share` of the training and
    validation rows with retrieved sources, the rest without; every test question both ways."""
    splits = split_year_questions(dataset, settings.stated_only, settings.validation_fraction,
                                  settings.seed, (settings.max_train, settings.max_validation,
                                                  settings.max_test))
    rng = split_rng(settings.seed, "context")
    rows: Splits = {
        name: [question_row(q, retrieve(q.question) if rng.random() < settings.context_share
                            else []) for q in part]
        for name, part in (("train", splits.train), ("validation", splits.validation))}
    rows["test_retrieved"] = numeric_rows(splits.test, retrieve)
    rows["test_none"] = numeric_rows(splits.test, None)
    stated = [r.answer_in_sources for r in rows["test_retrieved"]]
    return rows, {"source": "corpus_years", "stated_only": settings.stated_only,
                  **splits.counts(), "rows": {name: len(part) for name, part in rows.items()},
                  "train_rows_with_sources": sum(r.answer_in_sources is not None
                                                 for r in rows["train"]),
                  "test_answer_in_sources": round(sum(stated) / len(stated), 4) if stated else None}


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
    split: Splits = {"train": train, "validation": validation, "test_none": test,
                     "test_retrieved": []}
    return split, {"source": "messages", "path": settings.path, **policy.summary(),
                   "rows": {name: len(part) for name, part in split.items()}}


def write_numeric_data(rows: Splits, summary: dict[str, Any], out: Path, metrics: Path) -> None:
    """One JSONL file per split, swapped in atomically, and the counts as metrics JSON."""
    from hybridrag.atomic import atomic_directory
    from hybridrag.jsonl import write_jsonl
    from hybridrag.reporting import write_json

    with atomic_directory(out) as staging:
        for name, part in rows.items():
            write_jsonl(staging / f"{name}.jsonl", (row.as_json() for row in part))
    write_json(metrics, summary)
