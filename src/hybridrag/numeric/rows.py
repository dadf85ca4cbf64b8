"""ChatML rows whose reply is a number: the `numeric` source (a messages JSONL file users bring)
and rows made from the corpus's year questions, with or without retrieved sources."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybridrag.answers.prompt import Source, system_message
from hybridrag.chat.template import Messages
from hybridrag.config import NumericContext as Context
from hybridrag.errors import InputError
from hybridrag.ingest.fields import FieldError
from hybridrag.jsonl import RowPolicy, read_jsonl
from hybridrag.numeric.numbers import format_number, numbers_in, parse_number
from hybridrag.numeric.years import YearQuestion
from hybridrag.sft.conversations import validate

NUMERIC_INSTRUCTIONS = "Answer with the number only."
OWN_PROMPTS = "own"  # the context name of a messages file's rows: their prompts as written


@dataclass(frozen=True)
class NumericRow:
    """A conversation ending in the reply that carries `target`."""

    messages: Messages
    target: float
    question_id: str | None = None
    doc_id: str | None = None
    context: Context | None = None  # what the prompt carries before the question (None: own)
    answer_in_context: bool | None = None  # the number is in it (None: no context)
    example_values: tuple[float, ...] = ()  # the true values of the solved examples it shows

    def as_json(self) -> dict[str, Any]:
        return {"messages": self.messages, "target": self.target, "question_id": self.question_id,
                "doc_id": self.doc_id, "context": self.context,
                "answer_in_context": self.answer_in_context,
                "example_values": list(self.example_values)}


def read_rows(path: str | os.PathLike[str]) -> list[NumericRow]:
    """Rows the numeric_data stage wrote (trusted: written by as_json)."""
    return [NumericRow(**{**record, "example_values": tuple(record.get("example_values", ()))})
            for _, record in read_jsonl(path)]


def share_in_context(rows: Sequence[NumericRow]) -> float | None:
    """The share of rows whose number is in their prompt's context (None: no such row)."""
    found = [r.answer_in_context for r in rows if r.answer_in_context is not None]
    return round(sum(found) / len(found), 4) if found else None


def held_out_rows(folder: Path, contexts: Sequence[str]) -> dict[tuple[str, str], list[NumericRow]]:
    """The test rows numeric_data wrote (`<set>/<context>.jsonl`), per (set, context), the
    contexts in the order given."""
    paths = sorted(folder.glob("*/*.jsonl"), key=lambda path: (
        path.parent.name, contexts.index(path.stem) if path.stem in contexts else len(contexts),
        path.stem))
    return {(path.parent.name, path.stem): read_rows(path) for path in paths}


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


@dataclass(frozen=True)
class SolvedExample:
    question: str
    target: float
    doc_id: str | None


def examples_block(examples: Sequence[SolvedExample]) -> str:
    """The examples as the prompt lists them, one question and its answer per pair of lines."""
    pairs = "\n".join(f"Q: {e.question}\nA: {format_number(e.target)}" for e in examples)
    return f"Solved questions like this one, with their true answers:\n{pairs}"


def question_messages(question: str, sources: Sequence[Source],
                      examples: Sequence[SolvedExample] = ()) -> Messages:
    """The prompt of a numeric question: the grounded instructions and sources when there are
    any (as `hybridrag ask` builds them), the solved examples when there are any, then the
    request for the number alone."""
    parts = [system_message(sources)] if sources else []
    parts += [examples_block(examples)] if examples else []
    system = "\n\n".join([*parts, NUMERIC_INSTRUCTIONS])
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def question_row(question: YearQuestion, context: Context, sources: Sequence[Source] = (),
                 examples: Sequence[SolvedExample] = ()) -> NumericRow:
    """A training or test row: the prompt with its context, and the year as the reply ("1770",
    "323 BC"); whether the year is in the context (a source's text or an example's answer)."""
    messages = [*question_messages(question.question, sources, examples),
                {"role": "assistant", "content": format_number(question.target)}]
    values = tuple(e.target for e in examples)
    found = (question.target in numbers_in(" ".join(s.text for s in sources))
             or question.target in values)
    return NumericRow(messages, question.target, question.question_id, question.doc_id, context,
                      found if sources or examples else None, values)


def evaluation_rows(folder: Path, contexts: Sequence[str]) -> dict[tuple[str, str], list[NumericRow]]:
    """What eval_numeric scores, per (set, context): the validation rows as they trained
    (contexts mixed: for choosing the regression weight without test), then `held_out_rows` of
    `folder`/test with `contexts` and a messages file's own prompts."""
    return {("validation", "mixed"): read_rows(folder / "validation.jsonl"),
            **held_out_rows(folder / "test", (*contexts, OWN_PROMPTS))}
