"""Grounded answers: retrieve, prompt a chat model with numbered sources, return the answer and
the sources it cites."""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from hybridrag.generation import ChatGenerator, Messages
from hybridrag.search.searcher import Searcher

SYSTEM_PROMPT = ("You answer questions using only the numbered sources. Cite every source you "
                 "use by its number in brackets, like [1]. If the sources do not answer the "
                 "question, say that you do not know.")
_CITATION = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Source:
    number: int  # 1-based, as cited in the answer
    doc_id: str
    chunk_id: int
    title: str
    text: str


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    sources: list[Source]
    cited: list[int]  # numbers of the sources the answer cites (valid ones, in order)

    @property
    def cited_sources(self) -> list[Source]:
        return [self.sources[n - 1] for n in self.cited]


def build_prompt(question: str, sources: Sequence[Source], max_chars: int = 600) -> Messages:
    context = "\n\n".join(f"[{s.number}] {s.title}: {s.text[:max_chars]}" for s in sources)
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Sources:\n{context}\n\nQuestion: {question}"}]


def citations(text: str, n_sources: int) -> list[int]:
    """Source numbers cited as [n], each once, in order of first citation; others ignored."""
    found = (int(m) for m in _CITATION.findall(text))
    return list(dict.fromkeys(n for n in found if 1 <= n <= n_sources))


def retrieve_sources(searcher: Searcher, question: str, k: int, rerank: bool) -> list[Source]:
    results = searcher.search(question, k=k, rerank=rerank)
    documents = searcher.documents([r.doc_id for r in results])
    chunks = searcher.chunks([r.chunk_id for r in results])
    return [Source(i, r.doc_id, r.chunk_id, documents[r.doc_id].title, chunks[r.chunk_id].text)
            for i, r in enumerate(results, start=1)]


def answer(generator: ChatGenerator, searcher: Searcher, questions: Sequence[str], k: int = 3,
           rerank: bool = False, max_new_tokens: int = 64, batch_size: int = 4) -> list[Answer]:
    """Retrieve k sources per question, generate (batched, greedy), and read the citations."""
    sources = [retrieve_sources(searcher, q, k, rerank) for q in questions]
    texts = generator.generate([build_prompt(q, s) for q, s in zip(questions, sources, strict=True)],
                               max_new_tokens, batch_size)
    return [Answer(q, t, s, citations(t, len(s)))
            for q, t, s in zip(questions, texts, sources, strict=True)]


def grounding_scores(answers: Sequence[Answer], judgements: Sequence[dict[str, int]],
                     titles: dict[str, str], texts: dict[str, str], reference_chars: int = 600
                     ) -> dict[str, float]:
    """Shares of answers whose sources include a relevant document, that cite any source, whose
    cited sources include a relevant document, and that name a relevant document's title; and
    mean ROUGE-L F1 of the answer against the start of the best relevant document."""
    from hybridrag.sft.rouge import rouge_l

    rows = []
    for reply, judged in zip(answers, judgements, strict=True):
        relevant = [d for d, g in judged.items() if g > 0]
        rows.append({
            "retrieved_relevant": any(s.doc_id in relevant for s in reply.sources),
            "cited_any": bool(reply.cited),
            "cited_relevant": any(s.doc_id in relevant for s in reply.cited_sources),
            "names_relevant_title": any(titles[d].lower() in reply.text.lower() for d in relevant),
            "rouge_l_vs_relevant": max(rouge_l(reply.text, texts[d][:reference_chars])
                                       for d in relevant),
        })
    return {key: round(statistics.fmean(float(r[key]) for r in rows), 4) for key in rows[0]}
