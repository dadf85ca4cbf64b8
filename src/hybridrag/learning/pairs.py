"""(query, passage) training pairs: real ones from judged queries, synthetic ones written by the
local chat model and kept only when they pass three filters."""

from __future__ import annotations

import os
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from hybridrag.config import PairsParams
from hybridrag.embedding import passage_text
from hybridrag.errors import InputError
from hybridrag.jsonl import read_jsonl, write_jsonl
from hybridrag.records import Chunk, Dataset, Qrels, Query

if TYPE_CHECKING:
    from hybridrag.chat.generation import ChatGenerator

Encode = Callable[[list[str]], np.ndarray]  # texts -> unit vectors, the chunk vectors' model


@dataclass(frozen=True)
class Pair:
    query: str
    doc_id: str
    chunk_id: int
    passage: str  # what the embedder and reranker see: "title text" of the chunk
    source: Literal["real", "synthetic"]


class ChunkVectors:
    """Chunks with their (base model) unit vectors, for picking passages and round-trip checks."""

    def __init__(self, chunks: Sequence[Chunk], vectors: np.ndarray, chunk_ids: np.ndarray,
                 titles: dict[str, str], include_title: bool = True):
        row_of = {int(c): i for i, c in enumerate(chunk_ids)}
        self.chunks = list(chunks)
        self.vectors = vectors[[row_of[c.chunk_id] for c in self.chunks]]
        self.position = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        self.by_doc: dict[str, list[int]] = {}
        for i, chunk in enumerate(self.chunks):
            self.by_doc.setdefault(chunk.doc_id, []).append(i)
        self.titles = titles
        self.include_title = include_title

    def passage(self, index: int) -> str:
        chunk = self.chunks[index]
        return passage_text(self.titles[chunk.doc_id], chunk, self.include_title)

    def best_chunk(self, doc_id: str, query_vector: np.ndarray) -> int:
        """The document's chunk most similar to the query."""
        rows = self.by_doc[doc_id]
        return rows[int(np.argmax(self.vectors[rows] @ query_vector))]

    def rank_of(self, index: int, query_vector: np.ndarray) -> int:
        """1-based rank of chunk `index` among all chunks for the query (dense retrieval)."""
        scores = self.vectors @ query_vector
        return int((scores > scores[index]).sum()) + 1


def real_pairs(queries: Sequence[Query], qrels: Qrels, chunks: ChunkVectors,
               query_vectors: np.ndarray) -> list[Pair]:
    """One pair per (judged query, relevant document), with the document's best chunk."""
    pairs = []
    for query, vector in zip(queries, query_vectors, strict=True):
        for doc_id, grade in sorted(qrels.get(query.query_id, {}).items()):
            if grade > 0 and doc_id in chunks.by_doc:
                index = chunks.best_chunk(doc_id, vector)
                pairs.append(Pair(query.text, doc_id, chunks.chunks[index].chunk_id,
                                  chunks.passage(index), "real"))
    return pairs


def held_out_documents(dataset: Dataset) -> set[str]:
    """Documents judged relevant in any split but train: never trained on."""
    return {doc for split, qrels in dataset.qrels.items() if split != "train"
            for judged in qrels.values() for doc, grade in judged.items() if grade > 0}


def training_pairs(dataset: Dataset, chunks: ChunkVectors, query_vectors: Encode) -> list[Pair]:
    """Real pairs from the train qrels, leaving out every held-out document.

    `query_vectors` encodes query texts with the model that made the chunk vectors.
    """
    train_qrels = dataset.qrels.get("train", {})
    queries = [q for q in dataset.queries if q.query_id in train_qrels]
    held_out = held_out_documents(dataset)
    vectors = query_vectors([q.text for q in queries]) if queries else np.zeros((0, 1))
    return [p for p in real_pairs(queries, train_qrels, chunks, vectors) if p.doc_id not in held_out]


# Passage first, instruction last: with the instruction first, SmolLM2-135M praised "the
# question" instead of writing one (103 of 120 replies were not questions; now 16 of 16 are).
QUESTION_PROMPT = "Passage: {passage}\n\nWrite one question that this passage answers."
_WORD = re.compile(r"\w+")


def question_prompt(passage: str, max_chars: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": QUESTION_PROMPT.format(passage=passage[:max_chars])}]


def is_question(text: str) -> bool:
    """A single question: ends with '?', 3 to 30 words, one line."""
    words = _WORD.findall(text)
    return text.endswith("?") and 3 <= len(words) <= 30 and "\n" not in text


def copies_passage(question: str, passage: str, span: int = 6) -> bool:
    """True when `span` consecutive question words appear verbatim in the passage."""
    words = [w.lower() for w in _WORD.findall(question)]
    text = " ".join(w.lower() for w in _WORD.findall(passage))
    return any(" ".join(words[i:i + span]) in text for i in range(len(words) - span + 1))


def filter_synthetic(candidates: Iterable[tuple[int, str]], chunks: ChunkVectors,
                     question_vectors: np.ndarray, top_k: int) -> tuple[list[Pair], Counter[str]]:
    """Keep generated questions that are questions, do not copy their passage, and retrieve it.

    `candidates` are (chunk position, generated text); `question_vectors` their embeddings.
    Returns the kept pairs and counts of every outcome.
    """
    kept, outcome = [], Counter()
    for (index, text), vector in zip(candidates, question_vectors, strict=True):
        passage = chunks.passage(index)
        if not is_question(text):
            outcome["not_a_question"] += 1
        elif copies_passage(text, passage):
            outcome["copies_passage"] += 1
        elif chunks.rank_of(index, vector) > top_k:
            outcome[f"passage_not_in_top_{top_k}"] += 1
        else:
            outcome["kept"] += 1
            chunk = chunks.chunks[index]
            kept.append(Pair(text, chunk.doc_id, chunk.chunk_id, passage, "synthetic"))
    return kept, outcome


def split_by_document(pairs: Sequence[Pair], validation_fraction: float, seed: int
                      ) -> tuple[list[Pair], list[Pair]]:
    """(train, validation), no document on both sides."""
    documents = sorted({p.doc_id for p in pairs})
    random.Random(seed).shuffle(documents)
    held_out = set(documents[:round(validation_fraction * len(documents))])
    return ([p for p in pairs if p.doc_id not in held_out], [p for p in pairs if p.doc_id in held_out])


def write_pairs(path: str | os.PathLike[str], pairs: Iterable[Pair]) -> int:
    return write_jsonl(path, (asdict(p) for p in pairs))


def read_pairs(path: str | os.PathLike[str]) -> list[Pair]:
    pairs = []
    for line, row in read_jsonl(path):
        try:
            pairs.append(Pair(**row))
        except TypeError as error:
            raise InputError(path, line, f"not a pair row: {error}", "bad pair row") from error
    return pairs


def pair_counts(pairs: Sequence[Pair]) -> dict[str, Any]:
    return {"pairs": len(pairs), "documents": len({p.doc_id for p in pairs}),
            **{f"{source}_pairs": n for source, n in sorted(Counter(p.source for p in pairs).items())}}


def synthetic_pairs(dataset: Dataset, chunks: ChunkVectors, generator: ChatGenerator,
                    encode_texts: Encode, params: PairsParams) -> tuple[list[Pair], Counter[str]]:
    """Questions the chat model writes for a seeded sample of chunks of training documents,
    kept when they pass the filters; returns the kept pairs and every outcome's count."""
    held_out = held_out_documents(dataset)
    eligible = [i for i, c in enumerate(chunks.chunks) if c.doc_id not in held_out]
    picked = sorted(random.Random(params.seed).sample(eligible, min(params.synthetic_chunks,
                                                                    len(eligible))))
    questions = [reply.text for reply in generator.replies(
        [question_prompt(chunks.passage(i), params.passage_chars) for i in picked],
        params.max_new_tokens, params.generation_batch_size)]
    return filter_synthetic(zip(picked, questions, strict=True), chunks, encode_texts(questions),
                            params.synthetic_top_k)


def make_pairs(dataset: Dataset, chunks: ChunkVectors, encode_texts: Encode,
               generator: ChatGenerator | None, params: PairsParams
               ) -> tuple[list[Pair], list[Pair], dict[str, Any]]:
    """The make_pairs stage: real pairs, synthetic ones when a generator is given, split by
    document into (train, validation), and a summary of what was made and rejected."""
    real = training_pairs(dataset, chunks, encode_texts)
    synthetic: list[Pair] = []
    outcome: Counter[str] = Counter()
    if generator is not None and params.synthetic_chunks:
        synthetic, outcome = synthetic_pairs(dataset, chunks, generator, encode_texts, params)
    train, validation = split_by_document(real + synthetic, params.validation_fraction, params.seed)
    summary = {"real_pairs": len(real), "synthetic_generated": sum(outcome.values()),
               "synthetic_kept": outcome["kept"],
               "synthetic_rejected": {k: v for k, v in sorted(outcome.items()) if k != "kept"},
               "train": pair_counts(train), "validation": pair_counts(validation)}
    return train, validation, summary
