"""Natural questions for the reranker: questions people wrote about a paragraph (a SQuAD-format
file, the reading data), each with the paragraph that answers it. The corpus's own pairs are
known-item descriptions ("Edible berry"); a reranker that also learns from these reads the way
people ask about their own documents."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from hybridrag.config import Params
from hybridrag.learning.pairs import Pair
from hybridrag.learning.reranker import TrainingQuery, ValidationSet
from hybridrag.sft.reading import Article, Paragraph, paragraph_documents

SOURCE = "real"  # written by people, as the corpus's real pairs are


def passage(paragraph: Paragraph) -> str:
    """The paragraph as the reranker reads a chunk: "title text"."""
    return f"{paragraph.article.replace('_', ' ')} {paragraph.text}"


def reading_pairs(articles: Sequence[Article], limit: int, seed: int) -> list[Pair]:
    """A seeded sample of at most `limit` answerable questions of the articles, each paired
    with its paragraph (doc id `<article>#<index>`, as `paragraph_documents` indexes it)."""
    answerable = [q for a in articles for q in a.questions if q.answers]
    chosen = random.Random(seed).sample(answerable, min(limit, len(answerable)))
    return [Pair(q.text, q.paragraph.doc_id, q.paragraph.index, passage(q.paragraph), SOURCE)
            for q in chosen]


def reading_queries(articles: Sequence[Article], limit: int, negatives: int, seed: int
                    ) -> list[TrainingQuery]:
    """Training queries: `reading_pairs`, each with `negatives` other paragraphs of its article
    (seeded) as the passages it must rank below its own: same topic, no answer."""
    rng = random.Random(f"{seed}:negatives")
    by_article = {a.title: a.paragraphs for a in articles}
    queries = []
    for pair in reading_pairs(articles, limit, seed):
        article = pair.doc_id.rsplit("#", 1)[0]
        others = [p for p in by_article[article] if p.doc_id != pair.doc_id]
        chosen = rng.sample(others, min(negatives, len(others)))
        queries.append(TrainingQuery(pair.query, pair.passage, tuple(passage(p) for p in chosen)))
    return queries


@contextmanager
def reading_validation(articles: Sequence[Article], questions: int, seed: int, params: Params
                       ) -> Iterator[list[ValidationSet]]:
    """The reranker's validation set of natural questions: `questions` of the articles'
    answerable ones, searched among the articles' paragraphs, indexed (chunked, embedded with the
    base model) as a corpus of their own in a temporary folder; none when `questions` is 0."""
    if not questions:
        yield []
        return
    from tempfile import TemporaryDirectory

    from hybridrag.pipeline import index_documents
    from hybridrag.search.searcher import Searcher

    with TemporaryDirectory(prefix="reading-validation-") as folder:
        index_documents(folder, paragraph_documents(articles), params.chunk, params.embed,
                        params.build_db)
        with Searcher(folder, params.retrieval.updated(embedding="base"),
                      params.rerank.first_stage) as searcher:
            yield [ValidationSet("reading", reading_pairs(articles, questions, seed), searcher)]
