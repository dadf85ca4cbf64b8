"""The one scorer of grounded answers, used by evaluation, model comparison, DPO pair mining and
the tests: citations, the relevant title, abstention, ROUGE-L against the reference reply, and
whether the reply is well formed (it cites a source or abstains, and ends at <|im_end|>). Reading
items (questions with gold answer spans, SQuAD style) also get exact match and token F1 with the
official SQuAD 2.0 convention: an abstention is the empty answer, which scores 1 on an
unanswerable question and 0 on an answerable one."""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from hybridrag.answers.prompt import Source, answer_text, citations, reference_reply, sentences
from hybridrag.metrics.rouge import rouge_l, rouge_tokens
from hybridrag.metrics.squad import exact_match, token_f1

# What counts as saying "the sources do not answer this": the reference phrase and the usual
# ways a model words it.
_ABSTAINS = re.compile(
    r"\b(?:do|does|did)(?: not|n't) (?:contain|answer|say|mention|include|provide|know)"
    r"|\b(?:cannot|can't|could not|couldn't|unable to) (?:answer|find|tell|say|determine)"
    r"|\bno (?:information|answer|source)\b|\bnot (?:in|mentioned in) the sources\b", re.IGNORECASE)


WRONG_SPAN_F1 = 0.5  # a reading reply below this token F1 against the gold spans has the wrong span


@dataclass(frozen=True)
class GroundedItem:
    """A question with its numbered sources, which of them answer it, and the reference reply."""

    question: str
    sources: tuple[Source, ...]
    relevant: tuple[int, ...]  # numbers of the sources that answer it; () = they do not
    titles: tuple[str, ...]  # the titles of the relevant documents (named in a good answer)
    reference: str
    answers: tuple[str, ...] | None = None  # reading: the gold spans (() = unanswerable); else None

    @property
    def answerable(self) -> bool:
        return bool(self.relevant)


@dataclass(frozen=True)
class ReplyScore:
    cited: tuple[int, ...]  # valid source numbers cited, in order
    abstained: bool
    stopped: bool  # the reply ended at <|im_end|> before the token limit
    cites_relevant: bool  # answerable: a cited number points at a relevant source
    cites_wrong: bool  # a cited number points at a source that does not answer
    names_title: bool  # answerable: the reply names a relevant document's title
    rouge_l: float  # against the reference reply
    words: int
    exact: float | None = None  # reading items: SQuAD exact match (an abstention answers "")
    f1: float | None = None  # reading items: SQuAD token F1, citations stripped

    @property
    def well_formed(self) -> bool:
        """It ends, and it either cites a source or says the sources lack the answer."""
        return self.stopped and (bool(self.cited) or self.abstained)

    def faults(self, item: GroundedItem) -> list[str]:
        """What is wrong with this reply to `item` (empty when nothing is)."""
        found = []
        if item.answerable:
            if self.abstained:
                found.append("false_abstention")
            elif not self.cited:
                found.append("missing_citation")
            elif not self.cites_relevant:
                found.append("wrong_citation")
            elif self.cites_wrong:
                found.append("extra_citation")
            if not self.abstained and self.f1 is not None and self.f1 < WRONG_SPAN_F1:
                found.append("wrong_span")
            if not self.abstained and item.titles and not self.names_title:
                found.append("wrong_title")
        elif not self.abstained:
            found.append("answered_unanswerable")
        if not self.stopped:
            found.append("not_stopped")
        return found


def judge(question: str, sources: Sequence[Source], relevant_documents: Collection[str],
          titles: Mapping[str, str]) -> GroundedItem:
    """The item for a question asked over `sources`, given which documents answer it."""
    relevant = tuple(s.number for s in sources if s.doc_id in relevant_documents)
    return GroundedItem(question, tuple(sources), relevant,
                        tuple(titles[d] for d in sorted(relevant_documents) if d in titles),
                        reference_reply(sources, relevant))


BASELINE = "always cite [1]"  # the retriever alone, as a model that cites its top source


def top_source_reply(item: GroundedItem) -> str:
    """The baseline's reply: the first source's first sentence, titled and cited [1]."""
    return reference_reply(item.sources, (1,))


EXTRACTIVE = "extractive"  # the retriever's cross-encoder alone: its best sentence, cited

SentenceScorer = Callable[[str, Sequence[str]], Sequence[float]]  # question, sentences -> scores


def extractive_answer(question: str, sources: Sequence[Source], score: SentenceScorer) -> str:
    """The sentence of `sources` that `score` (the trained cross-encoder) rates highest for the
    question, cited by its source's number ("" when the sources have no sentence)."""
    candidates = [(s.number, sentence) for s in sources for sentence in sentences(s.text)]
    if not candidates:
        return ""
    scores = list(score(question, [sentence for _, sentence in candidates]))
    number, sentence = candidates[max(range(len(candidates)), key=scores.__getitem__)]
    return f"[{number}] {sentence}"


def extractive_reply(item: GroundedItem, score: SentenceScorer) -> str:
    """The extractive baseline's reply (`extractive_answer` of the item); it never abstains."""
    return extractive_answer(item.question, item.sources, score)


def abstains(text: str) -> bool:
    return bool(_ABSTAINS.search(text))


def score_reply(item: GroundedItem, reply: str, stopped: bool) -> ReplyScore:
    cited = tuple(citations(reply, len(item.sources)))
    lowered = reply.lower()
    abstained = abstains(reply)
    answer = "" if abstained else answer_text(reply)
    return ReplyScore(
        cited=cited, abstained=abstained, stopped=stopped,
        cites_relevant=any(n in item.relevant for n in cited),
        cites_wrong=any(n not in item.relevant for n in cited),
        names_title=any(title.lower() in lowered for title in item.titles),
        rouge_l=rouge_l(reply, item.reference), words=len(rouge_tokens(reply)),
        exact=None if item.answers is None else exact_match(answer, item.answers),
        f1=None if item.answers is None else token_f1(answer, item.answers))


def _share(flags: Sequence[bool]) -> float | None:
    return round(statistics.fmean(flags), 4) if flags else None


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def reading_summary(items: Sequence[GroundedItem], scores: Sequence[ReplyScore]) -> dict[str, float | None]:
    """SQuAD 2.0 rates over the reading items: exact match and F1 on answerable ones, the same
    over all (overall_*: an abstention scores 1 on an unanswerable item), and citing the gold
    source on answerable items whose gold source is not [1]."""
    pairs = [(i, s) for i, s in zip(items, scores, strict=True) if i.answers is not None]
    answerable = [(i, s) for i, s in pairs if i.answers]  # in the full RAG loop, also the
    # questions whose paragraph was not retrieved
    return {
        "reading_items": len(pairs),
        "exact_match": _mean([s.exact for _, s in answerable if s.exact is not None]),
        "f1": _mean([s.f1 for _, s in answerable if s.f1 is not None]),
        "overall_exact": _mean([s.exact for _, s in pairs if s.exact is not None]),
        "overall_f1": _mean([s.f1 for _, s in pairs if s.f1 is not None]),
        "cites_relevant_not_first": _share([s.cites_relevant for i, s in answerable
                                            if i.relevant and 1 not in i.relevant]),
    }


def summarize(items: Sequence[GroundedItem], scores: Sequence[ReplyScore]) -> dict[str, float | None]:
    """Rates over the items: on answerable ones (cites_relevant, cites_wrong (also one that is
    not relevant: citing every source is not a way to score), names_title (where the item names
    titles), false_abstention), on unanswerable ones (abstains_unanswerable), and on all (the
    rest); with reading items, also `reading_summary`'s."""
    answerable = [s for i, s in zip(items, scores, strict=True) if i.answerable]
    unanswerable = [s for i, s in zip(items, scores, strict=True) if not i.answerable]
    titled = [s for i, s in zip(items, scores, strict=True) if i.answerable and i.titles]
    reading = (reading_summary(items, scores) if any(i.answers is not None for i in items)
               else {})
    return {
        "items": len(scores), "answerable": len(answerable), "unanswerable": len(unanswerable),
        "cites_relevant": _share([s.cites_relevant for s in answerable]),
        "cites_wrong": _share([s.cites_wrong for s in answerable]),
        "names_title": _share([s.names_title for s in titled]),
        "false_abstention": _share([s.abstained for s in answerable]),
        "abstains_unanswerable": _share([s.abstained for s in unanswerable]),
        "cites_any": _share([bool(s.cited) for s in scores]),
        "well_formed": _share([s.well_formed for s in scores]),
        "stopped": _share([s.stopped for s in scores]),
        "rouge_l": round(statistics.fmean(s.rouge_l for s in scores), 4) if scores else None,
        "reply_words": round(statistics.fmean(s.words for s in scores), 2) if scores else None,
        **reading,
    }
