"""Year questions whose answer is in the corpus's own text: a sentence of an article that states
one year, asked back with the year blanked ("Which year belongs in the blank? "The city was
founded in ____ by ..." (Boston)"). Built from the text alone, without a generator, so that a
retrieved source can hold the answer and the `sources` context can be tested honestly."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

from hybridrag.answers.prompt import sentences
from hybridrag.numeric.numbers import numbers_in
from hybridrag.numeric.years import YearQuestion, plain_title
from hybridrag.records import Dataset, Document

BLANK = "____"
YEARS = (1000, 2029)  # the years a cloze may ask (4 digits, common era, not in the future)
WORDS = (6, 45)  # a sentence shorter says too little to place its year; longer is a list
_YEAR = re.compile(r"(?<![\w.,])\d{4}(?!\w)")


def cloze(sentence: str) -> tuple[str, float] | None:
    """The sentence with its only number, a year, blanked, and the year; None when the
    sentence holds no number, more than one, or one that is not a plain year ("1990s", "1,500",
    "1500 BC", "1914–1918" are refused)."""
    numbers = numbers_in(sentence)
    matches = _YEAR.findall(sentence)
    if len(numbers) != 1 or len(matches) != 1 or not WORDS[0] <= len(sentence.split()) <= WORDS[1]:
        return None
    year = numbers[0]
    if not YEARS[0] <= year <= YEARS[1] or float(matches[0]) != year:
        return None
    return _YEAR.sub(BLANK, sentence), year


def cloze_questions_for(document: Document, seed: int) -> list[YearQuestion]:
    """One question for the document: a seeded choice among its sentences that state a year
    (the same choice for the same document and seed, whatever else is in the corpus)."""
    candidates = [(sentence, found) for sentence in sentences(document.text)
                  if (found := cloze(sentence)) is not None]
    if not candidates:
        return []
    sentence, (blanked, year) = random.Random(f"{seed}:{document.doc_id}").choice(candidates)
    question = f'Which year belongs in the blank? "{blanked}" ({plain_title(document.title)})'
    return [YearQuestion(f"{document.doc_id}#in_text", document.doc_id, question, year, sentence)]


def in_text_questions(dataset: Dataset, split: str, seed: int) -> Iterable[YearQuestion]:
    """A cloze question for each document judged relevant in `split` that states a year."""
    documents = {d.doc_id: d for d in dataset.documents}
    judged = sorted({doc for docs in dataset.qrels.get(split, {}).values()
                     for doc, grade in docs.items() if grade > 0 and doc in documents})
    for doc_id in judged:
        yield from cloze_questions_for(documents[doc_id], seed)
