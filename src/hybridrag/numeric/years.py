"""Year questions from the default corpus, with real human-written answers: the Wikidata short
descriptions (the known-item queries) that date their article. "German composer (1770–1827)"
on a person's article gives "In what year was Ludwig van Beethoven born?" (1770) and "... die?"
(1827); "1968 film by Stanley Kubrick" gives "In what year was 2001: A Space Odyssey released?"."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from hybridrag.numeric.numbers import numbers_in
from hybridrag.records import Dataset, Document

PEOPLE_TOPIC = "People"
_LIFESPAN = re.compile(r"\((?:c\.\s*)?\d{1,4}(?:\s*BCE?)?\s*[–-]\s*(?:c\.\s*)?(?:AD\s*)?\d{1,4}"
                       r"(?:\s*(?:BCE?|AD|CE))?\)\s*$")
_DATED = re.compile(r"^(\d{3,4})\s+(?:CE\s+)?(?P<rest>.+)$")
_DISAMBIGUATION = re.compile(r"\s*\([^)]*\)\s*$")
# The kind of a dated work (a word of its description) -> the verb of its question.
VERBS = {
    "film": "released", "single": "released", "album": "released", "song": "released",
    "novel": "published", "novella": "published", "book": "published", "poem": "published",
    "play": "written", "treatise": "published", "essay": "published", "pamphlet": "published",
    "translations": "published", "work": "published", "encyclopedia": "completed",
    "painting": "painted", "sculpture": "made",
    "opera": "first performed", "ballet": "first performed", "musical": "first performed",
    "symphony": "completed", "mass": "completed", "oratorio": "first performed",
    "composition": "composed",
}


@dataclass(frozen=True)
class YearQuestion:
    """A question whose answer is a year (negative before the common era), from `evidence`."""

    question_id: str
    doc_id: str
    question: str
    target: float
    evidence: str  # the description it was read from


def plain_title(title: str) -> str:
    """"Casablanca (film)" -> "Casablanca": the title as a question would name it."""
    return _DISAMBIGUATION.sub("", title) or title


def year_questions_for(document: Document, query_id: str, description: str) -> list[YearQuestion]:
    """The questions one description dates for its document: birth and death years of a
    person's lifespan, or the year of a dated work or event; [] when it dates nothing."""
    title = plain_title(document.title)
    lifespan = _LIFESPAN.search(description)
    if lifespan and document.topic == PEOPLE_TOPIC:
        born, died = numbers_in(lifespan.group(0))[:2]
        if died < 0 < born and "BC" not in re.split("[–-]", lifespan.group(0))[0]:
            born = -born  # "(c. 570 – c. 495 BC)": the era after the second year holds for both
        return [YearQuestion(f"{query_id}#born", document.doc_id,
                             f"In what year was {title} born?", born, description),
                YearQuestion(f"{query_id}#died", document.doc_id,
                             f"In what year did {title} die?", died, description)]
    dated = _DATED.match(description)
    if dated:
        words = re.findall(r"[a-z]+", dated["rest"].lower())
        verb = next((VERBS[w] for w in words[:4] if w in VERBS), None)
        question = (f"In what year was {title} {verb}?" if verb else
                    f"In what year did the {title} take place?" if not title.startswith("The ")
                    else f"In what year did {title} take place?")
        return [YearQuestion(f"{query_id}#year", document.doc_id, question,
                             float(dated.group(1)), description)]
    return []


def year_questions(dataset: Dataset, split: str) -> Iterable[YearQuestion]:
    """Every year question of `split`'s known-item queries (one relevant document each)."""
    documents = {d.doc_id: d for d in dataset.documents}
    for query in dataset.queries:
        relevant = [doc for doc, grade in dataset.qrels.get(split, {}).get(query.query_id, {}).items()
                    if grade > 0]
        if len(relevant) == 1 and relevant[0] in documents:
            yield from year_questions_for(documents[relevant[0]], query.query_id, query.text)


def stated_in(document: Document, target: float) -> bool:
    """Whether the article's own text gives the year, so a retrieved source can answer it."""
    return target in numbers_in(document.text)
