"""Citations that follow the evidence: a reply whose answer (its words with the citations taken
out, normalised as the official SQuAD evaluation does) appears in the sources, but not in a source
it cites, is made to cite the best-ranked source that holds it. A reply that abstains, or whose
answer no source holds word for word, keeps the model's own citation."""

from __future__ import annotations

import re
from collections.abc import Sequence

from hybridrag.answers.prompt import Source, answer_text, citations
from hybridrag.answers.scoring import abstains
from hybridrag.metrics.squad import normalize_answer


def holders(answer: str, sources: Sequence[Source]) -> list[int]:
    """Numbers of the sources whose title and passage contain `answer` word for word, both
    normalised (case, punctuation, articles); none for an answer with no words."""
    words = normalize_answer(answer)
    if not words:
        return []
    return [s.number for s in sources
            if f" {words} " in f" {normalize_answer(f'{s.title} {s.text}')} "]


def attribute(reply: str, sources: Sequence[Source]) -> str:
    """`reply` citing the evidence for its answer: unchanged when it abstains, when it already
    cites a source that holds the answer, or when none does; otherwise its answer cited by the
    first (best-ranked) source that holds it, in the trained form `[n] answer`."""
    if abstains(reply):
        return reply
    answer = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(answer_text(reply).split()))
    found = holders(answer, sources)
    if not found or set(found) & set(citations(reply, len(sources))):
        return reply
    return f"[{found[0]}] {answer}"
