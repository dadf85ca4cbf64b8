"""Reading conversations from SQuAD-format JSON: questions people wrote about a paragraph, answered
from numbered sources that hold the paragraph among distractors.

Each question becomes a conversation whose system message lists `k` numbered sources (the
product's own prompt, `answers.prompt`): its paragraph, cut to the token budget, at a uniformly
random position, and distractor paragraphs, a share of them from the same article and the rest
from other articles of the same split. The reference reply is the first gold answer span with its
citation (`[2] Leonardo da Vinci`); an unanswerable question (`is_impossible`), and a share of
answerable ones shown without their paragraph, get the one abstention reply. Some training
conversations go on with another question on the same paragraph. Splits are by article.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hybridrag.answers.ask import as_sources
from hybridrag.answers.prompt import NO_ANSWER, Source, Trim, build_prompt
from hybridrag.answers.scoring import GroundedItem
from hybridrag.config import Params, ReadingParams
from hybridrag.records import Document
from hybridrag.search.rerank import Reranker
from hybridrag.search.searcher import Searcher
from hybridrag.sft.grounded import Example, Kind, sample, split_rng

SPLITS = ("train", "validation", "test")


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: str
    answer_start: int = Field(ge=0)


class _Question(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    question: str = Field(min_length=1)
    answers: list[_Answer]
    is_impossible: bool = False


class _Paragraph(BaseModel):
    model_config = ConfigDict(extra="ignore")
    context: str = Field(min_length=1)
    qas: list[_Question]


class _Article(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: str = Field(min_length=1)
    paragraphs: list[_Paragraph]


class _SquadFile(BaseModel):
    model_config = ConfigDict(extra="ignore")
    data: list[_Article] = Field(min_length=1)


@dataclass(frozen=True)
class Paragraph:
    article: str  # the article's title as the file writes it
    index: int  # its position in the article
    text: str  # the paragraph as shown: cut to the token budget

    @property
    def doc_id(self) -> str:
        return f"{self.article}#{self.index}"

    def source(self, number: int) -> Source:
        return Source(number, self.doc_id, self.index, self.article.replace("_", " "), self.text)


@dataclass(frozen=True)
class ReadingQuestion:
    query_id: str
    text: str
    answers: tuple[str, ...]  # the gold spans, first one the reference; () = unanswerable
    paragraph: Paragraph


@dataclass(frozen=True)
class Article:
    title: str
    paragraphs: list[Paragraph]
    questions: list[ReadingQuestion]


def read_squad(path: Path, trim: Trim) -> tuple[list[Article], Counter[str]]:
    """The articles of a SQuAD-format file with their paragraphs cut by `trim`, and counts of
    what was dropped: answerable questions whose every answer lies beyond the cut
    (`answer_beyond_budget`). An invalid file raises ValueError naming the field."""
    try:
        parsed = _SquadFile.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"sft.chatml.reading.path: cannot read {path}: {error}") from error
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{path}: {where}: {first['msg']} (SQuAD format expected)") from error
    dropped: Counter[str] = Counter()
    articles = []
    for article in parsed.data:
        paragraphs, questions = [], []
        for index, raw in enumerate(article.paragraphs):
            paragraph = Paragraph(article.title, index, trim(raw.context))
            paragraphs.append(paragraph)
            for qa in raw.qas:
                if qa.is_impossible or not qa.answers:
                    questions.append(ReadingQuestion(qa.id, qa.question.strip(), (), paragraph))
                    continue
                kept = tuple(dict.fromkeys(a.text.strip() for a in qa.answers
                                           if a.text.strip() and a.text.strip() in paragraph.text))
                if not kept:
                    dropped["answer_beyond_budget"] += 1
                    continue
                questions.append(ReadingQuestion(qa.id, qa.question.strip(), kept, paragraph))
        articles.append(Article(article.title, paragraphs, questions))
    return articles, dropped


def split_articles(articles: Sequence[Article], validation: int, test: int,
                   seed: int) -> dict[str, list[Article]]:
    """A seeded split by article: `validation` and `test` articles held out, the rest trained on."""
    if validation + test >= len(articles):
        raise ValueError(f"sft.chatml.reading: {validation} validation and {test} test articles "
                         f"leave none of the file's {len(articles)} to train on")
    order = sorted(articles, key=lambda a: a.title)
    random.Random(seed).shuffle(order)
    return {"validation": order[:validation], "test": order[validation:validation + test],
            "train": order[validation + test:]}


def reading_articles(reading: ReadingParams, seed: int, trim: Trim
                     ) -> tuple[dict[str, list[Article]], Counter[str]]:
    """The reading file's articles (`read_squad`) split as every stage splits them (`seed`:
    sft.chatml.seed), so that no model learns from a test article; and what was dropped."""
    articles, dropped = read_squad(Path(reading.path), trim)
    return (split_articles(articles, reading.validation_articles, reading.test_articles, seed),
            dropped)


def answerability_rows(articles: Sequence[Article], negatives: int, limit: int | None,
                       seed: int) -> list[tuple[str, str, float]]:
    """(question, passage, label) rows that teach whether a passage answers a question: each
    question with its own paragraph (1, or 0 for a question marked impossible, which the
    paragraph does not answer) and `negatives` other paragraphs of its article (0); a seeded
    subset of at most `limit` rows, shuffled."""
    rng = random.Random(f"{seed}:answerability")
    rows = []
    for article in articles:
        for question in article.questions:
            rows.append((question.text, question.paragraph.text, 1.0 if question.answers else 0.0))
            others = [p for p in article.paragraphs if p != question.paragraph]
            rows += [(question.text, p.text, 0.0)
                     for p in rng.sample(others, min(negatives, len(others)))]
    return sample(rows, limit, rng)


def distractors(gold: Paragraph, pool: Sequence[Article], count: int, same_article_share: float,
                rng: random.Random) -> list[Paragraph]:
    """`count` paragraphs other than `gold`: each from gold's article with probability
    `same_article_share` (while it has any left), else from another article of `pool`."""
    same = [p for a in pool if a.title == gold.article for p in a.paragraphs if p != gold]
    other = [p for a in pool if a.title != gold.article for p in a.paragraphs]
    chosen: list[Paragraph] = []
    while len(chosen) < count and (same or other):
        side = same if (same and (rng.random() < same_article_share or not other)) else other
        chosen.append(side.pop(rng.randrange(len(side))))
    return chosen


def question_example(question: ReadingQuestion, sources: tuple[Source, ...], missed: Kind,
                     follow_up: ReadingQuestion | None = None, *, judged_end_to_end: bool
                     ) -> Example:
    """The conversation asking `question` over `sources`: the cited span when its paragraph is
    among them, else the abstention (kind `missed` for an answerable question). An end-to-end
    judged item keeps the gold answers even when the paragraph is missing."""
    gold = next((s.number for s in sources if s.doc_id == question.paragraph.doc_id), None)
    answerable = bool(question.answers) and gold is not None
    reference = f"[{gold}] {question.answers[0]}" if answerable else NO_ANSWER
    kind: Kind = "answer" if answerable else "unanswerable" if not question.answers else missed
    item = GroundedItem(question.text, sources, (gold,) if answerable else (), (), reference,
                        answers=question.answers if answerable or judged_end_to_end else ())
    messages = [*build_prompt(question.text, sources), {"role": "assistant", "content": reference}]
    if follow_up is not None and answerable:
        messages += [{"role": "user", "content": follow_up.text},
                     {"role": "assistant", "content": f"[{gold}] {follow_up.answers[0]}"}]
    return Example(question.query_id, kind, item, messages)


def reading_example(question: ReadingQuestion, pool: Sequence[Article], k: int,
                    params: ReadingParams, rng: random.Random, *, drop_gold: bool,
                    follow_up: ReadingQuestion | None = None) -> Example:
    """The conversation for `question` over k sources: its paragraph at a uniform position
    among distractors (or, with `drop_gold`, distractors only), the reference reply, and an
    optional follow-up question on the same paragraph."""
    shown = distractors(question.paragraph, pool, k if drop_gold else k - 1,
                        params.same_article_share, rng)
    if not drop_gold:
        shown.insert(rng.randrange(len(shown) + 1), question.paragraph)
    return question_example(question, tuple(p.source(n) for n, p in enumerate(shown, 1)),
                            "no_answer", follow_up, judged_end_to_end=False)


def cap_unanswerable(questions: Sequence[ReadingQuestion], share: float,
                     rng: random.Random) -> list[ReadingQuestion]:
    """All answerable questions and a seeded subset of the unanswerable ones, at most `share`
    of the result (SQuAD 2.0 has about half: trained on as they come, a small model learns to
    abstain on everything)."""
    answerable = [q for q in questions if q.answers]
    unanswerable = [q for q in questions if not q.answers]
    room = len(unanswerable) if share >= 1 else int(share / (1 - share) * len(answerable))
    kept = set(map(id, rng.sample(unanswerable, min(room, len(unanswerable)))))
    return [q for q in questions if q.answers or id(q) in kept]


def reading_examples(articles: Sequence[Article], params: ReadingParams, k: int,
                     seed: int) -> dict[str, list[Example]]:
    """Every split's conversations: a seeded subset of its questions (`max_<split>`; training's
    unanswerable ones capped at `train_unanswerable_share`); follow-ups in training only."""
    splits = split_articles(articles, params.validation_articles, params.test_articles, seed)
    limits = {"train": params.max_train, "validation": params.max_validation,
              "test": params.max_test}
    examples: dict[str, list[Example]] = {}
    for split in SPLITS:
        pool = splits[split]
        rng = split_rng(seed, f"reading:{split}")
        asked = [q for a in pool for q in a.questions]
        if split == "train" and params.train_unanswerable_share is not None:
            asked = cap_unanswerable(asked, params.train_unanswerable_share, rng)
        questions = sample(asked, limits[split], rng)
        answerable_on = {}  # paragraph -> its answerable questions, for follow-ups
        for q in (q for a in pool for q in a.questions if q.answers):
            answerable_on.setdefault(q.paragraph.doc_id, []).append(q)
        part = []
        for question in questions:
            drop_gold = bool(question.answers) and rng.random() < params.no_answer_share
            others = [q for q in answerable_on.get(question.paragraph.doc_id, [])
                      if q is not question]
            follow_up = (rng.choice(others) if split == "train" and others and not drop_gold
                         and rng.random() < params.follow_up_share else None)
            part.append(reading_example(question, pool, k, params, rng, drop_gold=drop_gold,
                                        follow_up=follow_up))
        examples[split] = part
    return examples


def split_summary(articles: Sequence[Article], examples: Sequence[Example]) -> dict[str, Any]:
    """A split's articles, conversations by kind, gold positions and shares, for metrics JSON."""
    kinds = Counter(e.kind for e in examples)
    positions = Counter(e.item.relevant[0] for e in examples if e.item.relevant)
    return {
        "articles": sorted(a.title for a in articles), "conversations": len(examples),
        "by_kind": dict(sorted(kinds.items())),
        "abstention_share": round((kinds["unanswerable"] + kinds["no_answer"])
                                  / max(len(examples), 1), 4),
        "follow_up_share": round(sum(len(e.messages) > 3 for e in examples)
                                 / max(len(examples), 1), 4),
        "gold_position": {str(n): c for n, c in sorted(positions.items())},
    }


def paragraph_documents(articles: Sequence[Article]) -> list[Document]:
    """The articles' paragraphs (as cut) as a corpus to index: one document each."""
    return [Document(p.doc_id, a.title.replace("_", " "), p.text)
            for a in articles for p in a.paragraphs]


def retrieved_examples(articles: Sequence[Article], searcher: Searcher, trim: Trim, k: int,
                       rerank: bool, limit: int | None, seed: int) -> list[Example]:
    """The full RAG loop: a seeded subset of the articles' questions, each over the k sources
    the product's retriever finds in an index of all their paragraphs (`paragraph_documents`).
    A question whose paragraph is not retrieved keeps its gold answers (the loop is judged end
    to end) but cites nothing relevant (kind retrieval_miss)."""
    questions = sample([q for a in articles for q in a.questions], limit,
                       split_rng(seed, "reading:rag"))
    return [question_example(question, tuple(as_sources(
        searcher, searcher.search(question.text, k=k, rerank=rerank), trim)), "retrieval_miss",
        judged_end_to_end=True) for question in questions]


def rag_loop_rows(params: Params, tokenizer: Any, reranker: Path | Reranker | None, folder: Path,
                  split: str = "test", counts: Sequence[int] | None = None
                  ) -> dict[int, list[dict[str, Any]]]:
    """The split's questions (seeded, at most its max_test / max_validation) through the full
    RAG loop (`retrieved_examples`) over each count of sources (default: answers.sources), as
    ChatML rows: the split's paragraphs indexed in `folder` with the pipeline's chunk, embed and
    build_db settings (the base embedder: the fine-tuned one was tuned on the default corpus)
    and retrieved with its retrieval settings and the reranker's first-stage fusion, reranked by
    `reranker` (its folder, or the one already loaded) when answers.rerank. Every count asks the
    same questions in the same order."""
    from hybridrag.answers.prompt import token_trimmer
    from hybridrag.pipeline import index_documents

    reading, answers = params.sft.chatml.reading, params.answers
    trim = token_trimmer(tokenizer, answers.source_tokens)
    articles = reading_articles(reading, params.sft.chatml.seed, trim)[0][split]
    index_documents(folder, paragraph_documents(articles), params.chunk, params.embed,
                    params.build_db)
    limit = reading.max_validation if split == "validation" else reading.max_test
    # the reranker's first stage, as chatml retrieves: a query-time fusion experiment must
    # not rerun the comparison of every model
    with Searcher(folder, params.retrieval.updated(embedding="base"), params.rerank.first_stage,
                  device=answers.device, reranker=reranker if answers.rerank else None,
                  rerank_depth=params.rerank.depth) as searcher:
        return {k: [e.row() for e in retrieved_examples(articles, searcher, trim, k,
                                                        answers.rerank, limit,
                                                        params.sft.chatml.seed)]
                for k in (counts or [answers.sources])}
