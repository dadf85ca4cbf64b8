"""Grounded ChatML conversations from the corpus, for fine-tuning the answers the product gives.

Each judged query with a relevant document becomes a conversation over the sources the
pipeline's own retriever finds for it: the system message holds the instructions and the
numbered sources (as `answers.prompt` builds them at answer time), the user asks a question made
from the query, and the reference reply is a sentence of the relevant source's own passage that
cites its number and names its title. Some conversations continue with a follow-up answered
from the same source; in some the relevant document is left out and the reference says the
sources do not contain the answer. Training shuffles the source order; validation and test
keep the retriever's order and add a no-answer variant of every question. Splits are by
document: nothing judged in the ingest test split, nor in the held-out validation documents, is
trained on.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from hybridrag.answers.ask import as_sources
from hybridrag.answers.prompt import Source, Trim, build_prompt, sentences
from hybridrag.answers.scoring import GroundedItem, judge
from hybridrag.config import GroundedParams
from hybridrag.records import Dataset, Document
from hybridrag.search.searcher import Searcher
from hybridrag.sft.conversations import Conversation

Kind = Literal["answer", "no_answer", "retrieval_miss", "unanswerable"]
QUESTION_TEMPLATES = ("What is the {d}?", "Tell me about the {d}.", "Can you name the {d}?",
                      "Which article is about the {d}?", "I am looking for the {d}. What is it?",
                      "{D}: what is it?")
FOLLOW_UPS = ("Tell me more.", "What else do the sources say about it?",
              "Can you tell me more about it?")
_WORD = re.compile(r"[A-Za-z]+")
MIN_FOLLOW_UP_WORDS = 4


@dataclass(frozen=True)
class Question:
    query_id: str
    text: str  # the query as the user writes it
    relevant: frozenset[str]  # document ids that answer it


@dataclass(frozen=True)
class Example:
    """One grounded conversation: the item the scorer reads and the messages trained on."""

    query_id: str
    kind: Kind
    item: GroundedItem
    messages: Conversation
    variant_of: str | None = None  # a no-answer variant names its question

    def row(self) -> dict[str, Any]:
        """The ChatML JSONL row: `messages` to train on, `meta` to score a reply with (reading
        items add their gold `answers`)."""
        meta = {"query_id": self.query_id, "kind": self.kind, "variant_of": self.variant_of,
                "relevant": list(self.item.relevant), "titles": list(self.item.titles),
                "sources": [{"number": s.number, "doc_id": s.doc_id, "chunk_id": s.chunk_id,
                             "title": s.title, "text": s.text} for s in self.item.sources]}
        if self.item.answers is not None:
            meta["answers"] = list(self.item.answers)
        return {"messages": self.messages, "meta": meta}


def item_from_row(row: dict[str, Any]) -> GroundedItem:
    """The scorer's view of a row written by `Example.row`."""
    meta = row["meta"]
    messages = row["messages"]
    return GroundedItem(
        question=next(m["content"] for m in messages if m["role"] == "user"),
        sources=tuple(Source(**s) for s in meta["sources"]),
        relevant=tuple(meta["relevant"]), titles=tuple(meta["titles"]),
        reference=next(m["content"] for m in messages if m["role"] == "assistant"),
        answers=None if meta.get("answers") is None else tuple(meta["answers"]))


class QuestionWriter:
    """A question from a query: questions stay as they are; a description ("1968 film by Stanley
    Kubrick") goes into a seeded template, its first letter lower-cased when the corpus writes
    that word in lower case more often than capitalised."""

    def __init__(self, documents: Iterable[Document]):
        self.words: Counter[str] = Counter(w for d in documents for w in _WORD.findall(d.text))

    def phrase(self, text: str) -> str:
        first = text.split(" ", 1)[0]
        if first.isalpha() and first[:1].isupper() and first[1:].islower():
            lower = first.lower()
            if self.words[lower] > self.words[first]:
                return lower + text[len(first):]
        return text

    def __call__(self, query: str, rng: random.Random) -> str:
        query = " ".join(query.split()).rstrip(".")
        if query.endswith("?"):
            return query
        template = rng.choice(QUESTION_TEMPLATES)
        return template.format(d=self.phrase(query), D=query[:1].upper() + query[1:])


def follow_up_reply(source: Source) -> str | None:
    """The passage's second sentence, cited, when it has one long enough to be worth asking."""
    parts = sentences(source.text)
    if len(parts) < 2 or len(parts[1].split()) < MIN_FOLLOW_UP_WORDS:
        return None
    return f"[{source.number}] {parts[1]}"


def renumber(sources: Sequence[Source]) -> list[Source]:
    return [Source(i, s.doc_id, s.chunk_id, s.title, s.text) for i, s in enumerate(sources, 1)]


def make_example(question: Question, text: str, ranked: Sequence[Source], k: int,
                 titles: dict[str, str], rng: random.Random, *, drop_relevant: bool,
                 shuffle: bool, follow_up: bool, variant_of: str | None = None) -> Example:
    """A conversation over the first k of `ranked` (after dropping the relevant documents when
    asked); `rng` shuffles the order and picks the follow-up question."""
    shown = [s for s in ranked if not (drop_relevant and s.doc_id in question.relevant)][:k]
    if shuffle:
        shown = rng.sample(shown, len(shown))
    item = judge(text, renumber(shown), question.relevant, titles)
    kind: Kind = ("answer" if item.answerable else
                  "no_answer" if drop_relevant else "retrieval_miss")
    messages = [*build_prompt(text, item.sources), {"role": "assistant", "content": item.reference}]
    if follow_up and item.answerable:
        extra = follow_up_reply(item.sources[item.relevant[0] - 1])
        if extra is not None:
            messages += [{"role": "user", "content": rng.choice(FOLLOW_UPS)},
                         {"role": "assistant", "content": extra}]
    return Example(question.query_id, kind, item, messages, variant_of)


@dataclass(frozen=True)
class QuestionSplits:
    train: list[Question]
    validation: list[Question]
    test: list[Question]


def split_questions(dataset: Dataset, synthetic: Iterable[tuple[str, str]], params: GroundedParams,
                    validation_fraction: float, seed: int) -> QuestionSplits:
    """Train questions from the train judgements (and make_pairs' synthetic ones, given as
    (question, document) pairs) on documents judged nowhere else; a seeded share of those
    documents is held out for validation; test questions are the test split's."""
    judged = judged_documents(dataset)
    elsewhere = {d for split, qrels in judged.items() if split != "train"
                 for docs in qrels.values() for d in docs}
    texts = {q.query_id: q.text for q in dataset.queries}
    pool = [Question(q, texts[q], docs) for q, docs in sorted(judged.get("train", {}).items())
            if docs and q in texts and not docs & elsewhere]
    pool += [Question(f"synthetic:{i}", text, frozenset({doc})) for i, (text, doc)
             in enumerate(synthetic) if doc not in elsewhere] if params.synthetic_questions else []
    held = held_out_documents((d for q in pool for d in q.relevant), validation_fraction, seed)
    train = [q for q in pool if not q.relevant & held]
    validation = [q for q in pool if q.relevant <= held]
    test = [Question(q, texts[q], docs) for q, docs in sorted(judged.get("test", {}).items())
            if docs and q in texts]
    return QuestionSplits(sample(train, params.max_train, split_rng(seed, "train")),
                          sample(validation, params.max_validation, split_rng(seed, "validation")),
                          sample(test, params.max_test, split_rng(seed, "test")))


def judged_documents(dataset: Dataset) -> dict[str, dict[str, frozenset[str]]]:
    """split -> query id -> the documents judged relevant to it."""
    return {split: {q: frozenset(d for d, g in docs.items() if g > 0) for q, docs in qrels.items()}
            for split, qrels in dataset.qrels.items()}


def held_out_documents(documents: Iterable[str], fraction: float, seed: int) -> set[str]:
    """A seeded share of the training documents, held out for validation."""
    ordered = sorted(set(documents))
    random.Random(seed).shuffle(ordered)
    return set(ordered[:round(fraction * len(ordered))])


def split_rng(seed: int, split: str) -> random.Random:
    """One generator per split, so that a change to one split's size leaves the others as
    they were."""
    return random.Random(f"{seed}:{split}")


Item = TypeVar("Item")


def sample(questions: list[Item], limit: int | None, rng: random.Random) -> list[Item]:
    """A seeded subset in a seeded order, so that the first n of a split are a random n too."""
    return rng.sample(questions, len(questions) if limit is None else min(limit, len(questions)))


def grounded_examples(splits: QuestionSplits, searcher: Searcher, trim: Trim, write_question:
                      QuestionWriter, params: GroundedParams, k: int, rerank: bool, seed: int,
                      progress: bool = True) -> dict[str, list[Example]]:
    """Retrieve every question's sources and build its conversation(s), split by split."""
    from tqdm import tqdm

    titles: dict[str, str] = {}
    examples: dict[str, list[Example]] = {"train": [], "validation": [], "test": []}
    for split, questions in (("train", splits.train), ("validation", splits.validation),
                             ("test", splits.test)):
        rng = split_rng(seed, split)
        for question in tqdm(questions, desc=f"grounded {split}", unit="question",
                             disable=not progress):
            text = write_question(question.text, rng)  # retrieved as the user would ask it
            depth = k + len(question.relevant)  # room to leave the relevant documents out
            ranked = as_sources(searcher, searcher.search(text, k=depth, rerank=rerank), trim)
            documents = searcher.documents(sorted(question.relevant))
            titles.update({d: doc.title for d, doc in documents.items()})
            if split == "train":
                answerable = any(s.doc_id in question.relevant for s in ranked[:k])
                examples[split].append(make_example(
                    question, text, ranked, k, titles, rng,
                    drop_relevant=answerable and rng.random() < params.no_answer_share,
                    shuffle=rng.random() < params.shuffle_sources,
                    follow_up=rng.random() < params.follow_up_share))
                continue
            original = make_example(question, text, ranked, k, titles, rng, drop_relevant=False,
                                    shuffle=False, follow_up=False)
            examples[split].append(original)
            if original.kind == "answer":  # the same question, its answer left out
                examples[split].append(make_example(
                    question, text, ranked, k, titles, rng, drop_relevant=True, shuffle=False,
                    follow_up=False, variant_of=question.query_id))
    return examples


def example_counts(examples: Sequence[Example]) -> dict[str, Any]:
    """Counts by kind and the shares the params set, for metrics JSON."""
    kinds = Counter(e.kind for e in examples)
    positions = Counter(e.item.relevant[0] for e in examples if e.item.relevant)
    follow_ups = sum(len(e.messages) > 3 for e in examples)
    return {
        "conversations": len(examples), "by_kind": dict(sorted(kinds.items())),
        "no_answer_share": round((kinds["no_answer"] + kinds["retrieval_miss"])
                                 / max(len(examples), 1), 4),
        "follow_up_share": round(follow_ups / max(len(examples), 1), 4),
        "relevant_position": {str(k): v for k, v in sorted(positions.items())},
    }
