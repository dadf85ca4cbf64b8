"""Turn any user text into a safe FTS5 query: each word quoted, the words OR-ed together.

Quoting makes FTS5 syntax in user text (", NEAR, AND, OR, NOT, -, :, *, ^, parentheses)
plain words, so no input can raise an FTS5 syntax error.
"""

from __future__ import annotations

import re

# Lucene's classic English stop set plus common question words; they carry almost no BM25
# weight but make OR queries match most of the corpus, which is slow.
ENGLISH_STOPWORDS = frozenset("""
a an and are as at be but by for if in into is it no not of on or such that the their then
there these they this to was will with what which who whom whose when where why how do does
did i you he she we its our your his her them my me from has have had been were being
""".split())



def stopwords_for(setting: str, main_language: str | None) -> frozenset[str]:
    """retrieval.stopwords resolved: `auto` drops English stop words from queries on an index
    whose main language is English (or unknown, as in indexes built before languages)."""
    if setting == "english" or (setting == "auto" and main_language in (None, "en")):
        return ENGLISH_STOPWORDS
    return frozenset()


_WORD = re.compile(r"[^\W_]+")  # letters and digits, as FTS5 unicode61 splits them


def query_terms(text: str, stopwords: frozenset[str] = ENGLISH_STOPWORDS) -> list[str]:
    """Lower-cased words of `text` in order, without repeats; stop words dropped unless all are."""
    words = list(dict.fromkeys(word.lower() for word in _WORD.findall(text)))
    content = [word for word in words if word not in stopwords]
    return content or words


def fts_match_expression(terms: list[str]) -> str:
    """An FTS5 MATCH string for any of `terms` (each quoted as a literal phrase)."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
