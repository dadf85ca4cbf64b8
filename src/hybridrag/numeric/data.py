"""The numeric data of the default corpus: year questions split by document exactly as the
grounded conversations are (train documents judged in no other split, a seeded share of them
held out for validation, test from the test split), as ChatML rows with or without sources."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hybridrag.answers.prompt import Source
from hybridrag.numeric.rows import NumericRow, question_row
from hybridrag.numeric.years import YearQuestion, stated_in, year_questions
from hybridrag.records import Dataset
from hybridrag.sft.grounded import held_out_documents, judged_documents, sample, split_rng

Retrieve = Callable[[str], Sequence[Source]]  # a question -> its numbered sources


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
