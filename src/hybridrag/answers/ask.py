"""Grounded answers, as `hybridrag ask` and the service's /ask give them: retrieve the sources,
prompt the chat model with them numbered, and read back which of them the answer cites."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hybridrag.answers.prompt import Source, Trim, build_prompt, citations, token_trimmer
from hybridrag.chat.generation import ChatGenerator, Stream
from hybridrag.config import AnswersParams
from hybridrag.search.hybrid import SearchResult
from hybridrag.search.searcher import Searcher


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    sources: list[Source]
    cited: list[int]  # numbers of the sources the answer cites (valid ones, in order)
    stopped: bool  # the model ended its reply itself

    @property
    def cited_sources(self) -> list[Source]:
        return [self.sources[n - 1] for n in self.cited]


def as_sources(searcher: Searcher, results: Sequence[SearchResult], trim: Trim) -> list[Source]:
    """Results numbered from 1, each with its best chunk cut to the token budget."""
    documents = searcher.documents([r.doc_id for r in results])
    chunks = searcher.chunks([r.chunk_id for r in results])
    return [Source(number, r.doc_id, r.chunk_id, documents[r.doc_id].title,
                   trim(chunks[r.chunk_id].text), documents[r.doc_id].source_path,
                   chunks[r.chunk_id].page) for number, r in enumerate(results, start=1)]


def retrieve(generator: ChatGenerator, searcher: Searcher, questions: Sequence[str],
             settings: AnswersParams, sources: int | None = None, rerank: bool | None = None
             ) -> list[list[Source]]:
    """Each question's numbered sources, cut to the token budget of the chat model's tokenizer."""
    k = sources or settings.sources
    rerank = settings.rerank if rerank is None else rerank
    trim = token_trimmer(generator.tokenizer, settings.source_tokens)
    return [as_sources(searcher, searcher.search(q, k=k, rerank=rerank), trim) for q in questions]


def answer(generator: ChatGenerator, searcher: Searcher, questions: Sequence[str],
           settings: AnswersParams, sources: int | None = None, rerank: bool | None = None,
           max_new_tokens: int | None = None) -> list[Answer]:
    """Retrieve the sources of each question, generate (batched, greedy), read the citations.
    `sources`, `rerank` and `max_new_tokens` override the settings for one request."""
    found = retrieve(generator, searcher, questions, settings, sources, rerank)
    replies = generator.replies([build_prompt(q, s) for q, s in zip(questions, found, strict=True)],
                                max_new_tokens or settings.max_new_tokens, settings.batch_size)
    return [Answer(q, r.text, s, citations(r.text, len(s)), r.stopped)
            for q, r, s in zip(questions, replies, found, strict=True)]


@dataclass(frozen=True)
class StreamedAnswer:
    """An answer being generated: its sources at once, its text piece by piece (`stream`)."""

    question: str
    sources: list[Source]
    stream: Stream

    def answer(self) -> Answer:
        """The whole answer, once the stream has been read to its end."""
        reply = self.stream.result
        if reply is None:
            raise RuntimeError("the answer is still being generated: read the stream to its end")
        return Answer(self.question, reply.text, self.sources,
                      citations(reply.text, len(self.sources)), reply.stopped)


def answer_stream(generator: ChatGenerator, searcher: Searcher, question: str,
                  settings: AnswersParams, sources: int | None = None, rerank: bool | None = None,
                  max_new_tokens: int | None = None) -> StreamedAnswer:
    """`answer` for one question, its text streamed as the model writes it (the same text)."""
    found = retrieve(generator, searcher, [question], settings, sources, rerank)[0]
    return StreamedAnswer(question, found, generator.stream(
        build_prompt(question, found), max_new_tokens or settings.max_new_tokens))
