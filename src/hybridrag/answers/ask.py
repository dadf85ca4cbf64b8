"""Grounded answers, as `hybridrag ask` and the service's /ask give them: retrieve the sources,
prompt the chat model with them numbered, and read back which of them the answer cites. With the
answerability gate, a question whose best reranked source scores below its threshold gets the
abstention, and the reason, without the model being asked. With `answers.attribute`, a reply
citing a source that lacks its answer cites the source holding it (answers.attribution); with
`answers.on_model_abstention: extractive`, a model that abstains on a question the gate let
through is answered by the cross-encoder's best sentence of the sources (answers.policy)."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass

from hybridrag.answers.gate import Gate
from hybridrag.answers.policy import shown_reply
from hybridrag.answers.prompt import NO_ANSWER, Source, Trim, build_prompt, citations, token_trimmer
from hybridrag.answers.scoring import SentenceScorer
from hybridrag.chat.generation import ChatGenerator, Generated, Stream
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
    gated: str | None = None  # why the gate abstained without asking the model; None: it answered
    extracted: bool = False  # the model abstained past the gate: the cross-encoder's best sentence

    @property
    def cited_sources(self) -> list[Source]:
        return [self.sources[n - 1] for n in self.cited]


def as_sources(searcher: Searcher, results: Sequence[SearchResult], trim: Trim) -> list[Source]:
    """Results numbered from 1, each with its best chunk cut to the token budget."""
    documents = searcher.documents([r.doc_id for r in results])
    chunks = searcher.chunks([r.chunk_id for r in results])
    return [Source(number, r.doc_id, r.chunk_id, documents[r.doc_id].title,
                   trim(chunks[r.chunk_id].text), documents[r.doc_id].source_path,
                   chunks[r.chunk_id].page, chunks[r.chunk_id].section)
            for number, r in enumerate(results, start=1)]


@dataclass(frozen=True)
class Retrieved:
    sources: list[Source]
    best_score: float | None  # the best cross-encoder score among them (None: not reranked)


def retrieve(generator: ChatGenerator, searcher: Searcher, questions: Sequence[str],
             settings: AnswersParams, sources: int | None = None, rerank: bool | None = None
             ) -> list[Retrieved]:
    """Each question's numbered sources, cut to the token budget of the chat model's tokenizer."""
    k = sources or settings.sources
    rerank = settings.rerank if rerank is None else rerank
    trim = token_trimmer(generator.tokenizer, settings.source_tokens)
    found = []
    for question in questions:
        results = searcher.search(question, k=k, rerank=rerank)
        scores = [r.rerank_score for r in results if r.rerank_score is not None]
        found.append(Retrieved(as_sources(searcher, results, trim), max(scores, default=None)))
    return found


def gate_reason(gate: Gate | None, question: str, retrieved: Retrieved) -> str | None:
    if gate is None:
        return None
    return gate.decide(question, retrieved.sources, retrieved.best_score)


def answer(generator: ChatGenerator, searcher: Searcher, questions: Sequence[str],
           settings: AnswersParams, sources: int | None = None, rerank: bool | None = None,
           max_new_tokens: int | None = None, gate: Gate | None = None) -> list[Answer]:
    """Retrieve the sources of each question, generate (batched, greedy), read the citations.
    `sources`, `rerank` and `max_new_tokens` override the settings for one request; questions
    that `gate` turns away get the abstention without being generated."""
    found = retrieve(generator, searcher, questions, settings, sources, rerank)
    reasons = [gate_reason(gate, q, r) for q, r in zip(questions, found, strict=True)]
    asked = [i for i, reason in enumerate(reasons) if reason is None]
    replies = dict(zip(asked, generator.replies(
        [build_prompt(questions[i], found[i].sources) for i in asked],
        max_new_tokens or settings.max_new_tokens, settings.batch_size) if asked else [],
        strict=True))
    answers = []
    for i, (question, retrieved) in enumerate(zip(questions, found, strict=True)):
        if reasons[i] is not None:
            answers.append(Answer(question, NO_ANSWER, retrieved.sources, [], True, reasons[i]))
            continue
        answers.append(read_reply(question, retrieved.sources, replies[i], settings,
                                  sentence_scorer(searcher, settings)))
    return answers


def sentence_scorer(searcher: Searcher, settings: AnswersParams) -> SentenceScorer | None:
    """The searcher's cross-encoder, which picks the extractive answer (None: it has none, or
    answers.on_model_abstention keeps the model's abstention)."""
    if settings.on_model_abstention == "keep" or not searcher.has_reranker:
        return None
    return searcher.reranker.scores


def read_reply(question: str, sources: list[Source], reply: Generated, settings: AnswersParams,
               score: SentenceScorer | None, gated: str | None = None) -> Answer:
    """The answer in a generated reply as the product shows it (answers.policy.shown_reply),
    its citations read back."""
    shown = shown_reply(question, sources, reply, settings.attribute,
                        settings.on_model_abstention, score)
    return Answer(question, shown.text, sources, citations(shown.text, len(sources)),
                  shown.stopped, gated, shown.extracted)


@dataclass(frozen=True)
class StreamedAnswer:
    """An answer being generated: its sources at once, its text piece by piece (`stream`)."""

    question: str
    sources: list[Source]
    stream: Stream
    settings: AnswersParams
    score: SentenceScorer | None = None  # the cross-encoder for on_model_abstention: extractive
    gated: str | None = None  # the gate's reason: the stream is the abstention, not generated

    def answer(self) -> Answer:
        """The whole answer, once the stream has been read to its end (as `read_reply` shows
        it: its citation, or with an extractive answer its text, may differ from the stream's)."""
        reply = self.stream.result
        if reply is None:
            raise RuntimeError("the answer is still being generated: read the stream to its end")
        if self.gated is not None:
            return Answer(self.question, reply.text, self.sources, [], True, self.gated)
        return read_reply(self.question, self.sources, reply, self.settings, self.score)


def answer_stream(generator: ChatGenerator, searcher: Searcher, question: str,
                  settings: AnswersParams, sources: int | None = None, rerank: bool | None = None,
                  max_new_tokens: int | None = None, gate: Gate | None = None) -> StreamedAnswer:
    """`answer` for one question, its text streamed as the model writes it (the same text)."""
    found = retrieve(generator, searcher, [question], settings, sources, rerank)[0]
    reason = gate_reason(gate, question, found)
    if reason is not None:
        return StreamedAnswer(question, found.sources, Stream(_abstention()), settings,
                              gated=reason)
    return StreamedAnswer(question, found.sources, generator.stream(
        build_prompt(question, found.sources), max_new_tokens or settings.max_new_tokens),
        settings, sentence_scorer(searcher, settings))


def _abstention() -> Generator[str, None, Generated]:
    yield NO_ANSWER
    return Generated(NO_ANSWER, True)
