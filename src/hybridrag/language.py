"""Documents' languages, detected offline with py3langid (its model ships in the wheel)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from functools import cache

from hybridrag.records import Document

SAMPLE_CHARACTERS = 5000  # detection reads the start of long documents; more changes nothing


@cache
def _identifier():  # noqa: ANN202 - py3langid has no type hints
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE)


def detect_language(text: str) -> str:
    """The ISO 639-1 code of the language `text` is most likely written in (97 candidates)."""
    code, _ = _identifier().classify(text[:SAMPLE_CHARACTERS])
    return code


def with_languages(documents: Iterable[Document], known: str | None = None) -> list[Document]:
    """Documents with `language` set: kept where given, else `known`, else detected from title
    and text."""
    return [d if d.language else
            replace(d, language=known or detect_language(f"{d.title}\n{d.text}"))
            for d in documents]


def main_language(documents: Iterable[Document]) -> str | None:
    """The language most documents are in (ties: the alphabetically first); None when unknown."""
    counts = Counter(d.language for d in documents if d.language)
    if not counts:
        return None
    return min(counts, key=lambda code: (-counts[code], code))
