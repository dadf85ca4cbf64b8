"""The grounded prompt, the same at training and at answer time: instructions and numbered sources
(title and passage, cut to a token budget) in the system message, the question as the user turn.
And the reference replies built from the sources' own text, and the citations read back."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hybridrag.chat.template import Messages
from hybridrag.records import file_location

Trim = Callable[[str], str]  # a passage -> its start, within the token budget

INSTRUCTIONS = ("Answer from the numbered sources and cite the one you use, like [2]. If none "
                "answers the question, say: The sources do not contain the answer.")
NO_ANSWER = "The sources do not contain the answer."
CITATION = re.compile(r"\[(\d+)\]")
# A sentence ends at . ! or ? followed by a space and a capital, digit or quote, unless the word
# before it is one letter (an initial, "J. S. Bach"; "b. 1950") or a common abbreviation.
_SENTENCE_END = re.compile(r"(\S*)[.!?](?=\s+[\"'(A-Z0-9])")
_ABBREVIATIONS = frozenset({"st", "mr", "mrs", "dr", "jr", "sr", "ms", "mt", "vs", "no", "c", "ca",
                            "e.g", "i.e", "etc", "approx", "fig", "vol", "inc", "co", "ltd"})


@dataclass(frozen=True)
class Source:
    number: int  # 1-based, as cited in the answer
    doc_id: str
    chunk_id: int
    title: str
    text: str  # the passage as shown in the prompt (already cut to the budget)
    source_path: str | None = None  # the file it comes from (files corpus), shown to the reader
    page: int | None = None  # the passage's page (PDF)
    section: str | None = None  # the passage's section, a heading path (Markdown)

    @property
    def location(self) -> str | None:
        """Where a reader finds the passage: "report.pdf, p. 4" (None for a corpus without files)."""
        return file_location(self.source_path, self.page, self.section)


def token_trimmer(tokenizer: object, budget: int) -> Trim:
    """A Trim that keeps a passage's first `budget` tokens of `tokenizer`, ending on a word."""

    def trim(text: str) -> str:
        encoded = tokenizer(text, add_special_tokens=False,  # type: ignore[operator]
                            return_offsets_mapping=True)
        offsets = encoded["offset_mapping"]
        if len(offsets) <= budget:
            return text.strip()
        cut = offsets[budget][0]
        head = text[:cut]
        if not text[cut].isspace() and " " in head:  # do not end inside a word
            head = head[:head.rindex(" ")]
        return head.strip()

    return trim


def system_message(sources: Sequence[Source]) -> str:
    listed = "\n".join(f"[{s.number}] {s.title}: {s.text}" for s in sources)
    return f"{INSTRUCTIONS}\n\nSources:\n{listed}"


def build_prompt(question: str, sources: Sequence[Source]) -> Messages:
    """The messages a chat model answers: instructions and sources, then the question."""
    return [{"role": "system", "content": system_message(sources)},
            {"role": "user", "content": question}]


def citations(text: str, n_sources: int) -> list[int]:
    """Source numbers cited as [n], each once, in order of first citation; others ignored."""
    found = (int(m) for m in CITATION.findall(text))
    return list(dict.fromkeys(n for n in found if 1 <= n <= n_sources))


def answer_text(reply: str) -> str:
    """A reply as an answer: its citation marks removed."""
    return CITATION.sub(" ", reply)


def sentences(text: str) -> list[str]:
    """The passage split into sentences (a cut-off last one is kept as it is)."""
    parts, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        word = match.group(1).lstrip("(\"'")
        if len(word) <= 1 or word.lower() in _ABBREVIATIONS:
            continue
        parts.append(text[start:match.end()].strip())
        start = match.end()
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def cited_sentence(sentence: str, source: Source) -> str:
    """A sentence of `source` as an answer, opened the way the prompt lists the source: its
    number, then its title (`[2] Tomato: The tomato is ...`). Citation first, so a reply that
    runs long still says where it comes from, and choosing the source is its first decision."""
    return f"[{source.number}] {source.title}: {sentence}"


def reference_reply(sources: Sequence[Source], relevant: Sequence[int]) -> str:
    """The reply a grounded answer should give: the first sentence of the first relevant
    source's passage, naming its title and citing it; the abstention when none is relevant."""
    if not relevant:
        return NO_ANSWER
    source = sources[relevant[0] - 1]
    return cited_sentence(sentences(source.text)[0], source)
