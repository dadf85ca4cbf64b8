"""ChatML rows whose reply is a number: the `numeric` source (a messages JSONL file users bring)
and rows made from the corpus's year questions, with or without retrieved sources."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from hybridrag.answers.prompt import Source, system_message
from hybridrag.chat.template import Messages
from hybridrag.errors import InputError
from hybridrag.ingest.fields import FieldError
from hybridrag.jsonl import RowPolicy, read_jsonl
from hybridrag.numeric.numbers import format_number, numbers_in, parse_number
from hybridrag.numeric.years import YearQuestion
from hybridrag.sft.conversations import validate

NUMERIC_INSTRUCTIONS = "Answer with the number only."


@dataclass(frozen=True)
class NumericRow:
    """A conversation ending in the reply that carries `target`."""

    messages: Messages
    target: float
    question_id: str | None = None
    doc_id: str | None = None
    answer_in_sources: bool | None = None  # the year is in the prompt's sources (None: none)

    def as_json(self) -> dict[str, Any]:
        return {"messages": self.messages, "target": self.target, "question_id": self.question_id,
                "doc_id": self.doc_id, "answer_in_sources": self.answer_in_sources}


def read_rows(path: str | os.PathLike[str]) -> list[NumericRow]:
    """Rows the numeric_data stage wrote (trusted: written by as_json)."""
    return [NumericRow(**record) for _, record in read_jsonl(path)]


def target_of(record: dict[str, Any], messages: Messages) -> float:
    """The row's `target` field (a number, or text holding one), else the first number of the
    last assistant reply; FieldError when there is none."""
    if record.get("target") is not None:
        value = record["target"]
        number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
            else parse_number(value) if isinstance(value, str) else None
        if number is None:
            raise FieldError("target", f"must be a number, got {value!r}")
        return number
    number = parse_number(messages[-1]["content"])
    if number is None:
        raise FieldError("messages", "has no number in its last assistant reply and no 'target' "
                                     "field naming one")
    return number


def read_numeric_rows(path: str | os.PathLike[str], policy: RowPolicy) -> Iterator[NumericRow]:
    """Rows of a messages JSONL file; a row without a parsable number goes to `policy` with
    its file and line."""
    for line, record in read_jsonl(path, policy):
        try:
            messages = validate(record.get("messages"))
            yield NumericRow(messages, target_of(record, messages),
                             str(record["id"]) if record.get("id") is not None else None)
        except FieldError as error:
            policy.reject(InputError(path, line, str(error), f"field {error.field.split('[')[0]!r}"))


def question_messages(question: str, sources: Sequence[Source]) -> Messages:
    """The prompt of a numeric question: the grounded instructions and sources when there are
    any (as `hybridrag ask` builds them), then the request for the number alone."""
    system = (f"{system_message(sources)}\n\n{NUMERIC_INSTRUCTIONS}" if sources
              else NUMERIC_INSTRUCTIONS)
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def question_row(question: YearQuestion, sources: Sequence[Source]) -> NumericRow:
    """A training or test row: the prompt, and the year as the reply ("1770", "323 BC")."""
    messages = [*question_messages(question.question, sources),
                {"role": "assistant", "content": format_number(question.target)}]
    stated = (question.target in numbers_in(" ".join(s.text for s in sources))) if sources else None
    return NumericRow(messages, question.target, question.question_id, question.doc_id, stated)
