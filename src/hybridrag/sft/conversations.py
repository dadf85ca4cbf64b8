"""ChatML conversations: the common formats users bring, validated, deduplicated and split."""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from hybridrag.errors import InputError
from hybridrag.ingest.fields import FieldError
from hybridrag.jsonl import RowPolicy, read_jsonl

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": str}
Conversation = list[Message]
ROLES = ("system", "user", "assistant")
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "bot": "assistant", "model": "assistant", "system": "system"}


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise FieldError(field, f"must be a string, got {type(value).__name__}")
    if not value.strip():
        raise FieldError(field, "is empty")
    return value.strip()


def validate(messages: Any, max_turns: int | None = None) -> Conversation:
    """A checked conversation: known roles, system only first, user/assistant alternating from a
    user turn, ending on an assistant turn (a trailing user turn is dropped). `max_turns` keeps
    that many non-system messages from the start."""
    if not isinstance(messages, list) or not messages:
        raise FieldError("messages", "must be a non-empty list")
    conversation: Conversation = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise FieldError(where, f"must be an object, got {type(message).__name__}")
        role = message.get("role")
        if role not in ROLES:
            raise FieldError(f"{where}.role", f"must be one of {list(ROLES)}, got {role!r}")
        content = _text(message.get("content"), f"{where}.content")
        if role == "system" and index != 0:
            raise FieldError(f"{where}.role", "system is allowed only as the first message")
        expected = "user" if len([m for m in conversation if m["role"] != "system"]) % 2 == 0 else "assistant"
        if role != "system" and role != expected:
            raise FieldError(f"{where}.role", f"expected {expected!r} (turns must alternate, "
                             f"starting with user), got {role!r}")
        conversation.append({"role": role, "content": content})
    system = conversation[:1] if conversation[0]["role"] == "system" else []
    turns = conversation[len(system):]
    if max_turns is not None:
        turns = turns[:max_turns]
    if turns and turns[-1]["role"] == "user":
        turns = turns[:-1]
    if not turns:
        raise FieldError("messages", "has no assistant reply")
    return system + turns


def from_messages(record: dict[str, Any]) -> Any:
    return record.get("messages")


def from_alpaca(record: dict[str, Any]) -> Any:
    """{"instruction", "input" (optional), "output", "system" (optional)} -> one exchange."""
    instruction = _text(record.get("instruction"), "instruction")
    extra = record.get("input") or ""
    if not isinstance(extra, str):
        raise FieldError("input", f"must be a string, got {type(extra).__name__}")
    prompt = f"{instruction}\n\n{extra.strip()}" if extra.strip() else instruction
    messages = [{"role": "user", "content": prompt},
                {"role": "assistant", "content": _text(record.get("output"), "output")}]
    if record.get("system"):
        messages.insert(0, {"role": "system", "content": _text(record["system"], "system")})
    return messages


def from_sharegpt(record: dict[str, Any]) -> Any:
    """{"conversations": [{"from": "human" | "gpt" | "system", "value": ...}, ...]}."""
    turns = record.get("conversations")
    if not isinstance(turns, list):
        raise FieldError("conversations", "must be a list of {from, value} objects")
    messages = []
    for index, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise FieldError(f"conversations[{index}]", "must be an object")
        speaker = turn.get("from")
        if speaker not in SHAREGPT_ROLES:
            raise FieldError(f"conversations[{index}].from",
                             f"must be one of {sorted(SHAREGPT_ROLES)}, got {speaker!r}")
        messages.append({"role": SHAREGPT_ROLES[speaker], "content": turn.get("value")})
    return messages


CONVERTERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "messages": from_messages, "alpaca": from_alpaca, "sharegpt": from_sharegpt}


def read_conversations(path: str | os.PathLike[str], source: str, policy: RowPolicy,
                       max_turns: int | None = None) -> Iterator[Conversation]:
    """Conversations from a JSONL file in `source` format; bad rows go to `policy` by line."""
    convert = CONVERTERS[source]
    for line, record in read_jsonl(path, policy):
        try:
            yield validate(convert(record), max_turns)
        except FieldError as error:
            policy.reject(InputError(path, line, str(error), f"field {error.field.split('[')[0]!r}"))


def chitchat_conversations(max_turns: int | None = None) -> Iterator[Conversation]:
    """The human conversations of PyPI `chitchat-dataset`: first speaker user, second assistant.

    Consecutive messages of one speaker are one turn.
    """
    import chitchat_dataset

    for conversation in chitchat_dataset.Dataset().values():
        turns = [" ".join(u["text"].strip() for u in group if u["text"].strip())
                 for group in conversation["messages"]]
        messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": text}
                    for i, text in enumerate(t for t in turns if t)]
        try:
            yield validate(messages, max_turns)
        except FieldError:
            continue  # a one-sided conversation has no assistant reply: nothing to learn from


def fingerprint(conversation: Conversation) -> str:
    """Identity for deduplication: the messages, case and spacing folded."""
    canonical = [(m["role"], " ".join(m["content"].casefold().split())) for m in conversation]
    return hashlib.sha1(json.dumps(canonical).encode()).hexdigest()


def deduplicate(conversations: Iterable[Conversation]) -> tuple[list[Conversation], int]:
    """(first occurrences in order, number of duplicates dropped)."""
    seen: set[str] = set()
    kept = []
    duplicates = 0
    for conversation in conversations:
        key = fingerprint(conversation)
        if key in seen:
            duplicates += 1
        else:
            seen.add(key)
            kept.append(conversation)
    return kept, duplicates


def split_conversations(conversations: list[Conversation], validation_fraction: float,
                        test_fraction: float, seed: int) -> dict[str, list[Conversation]]:
    """A seeded shuffle, cut into test, validation and train (whole conversations each)."""
    order = list(range(len(conversations)))
    random.Random(seed).shuffle(order)
    n_test = round(test_fraction * len(order))
    n_validation = round(validation_fraction * len(order))
    cuts = {"test": order[:n_test], "validation": order[n_test:n_test + n_validation],
            "train": order[n_test + n_validation:]}
    return {split: [conversations[i] for i in sorted(ids)] for split, ids in cuts.items()}


def write_conversations(path: Path, conversations: Iterable[Conversation]) -> int:
    from hybridrag.jsonl import write_jsonl

    return write_jsonl(path, ({"messages": c} for c in conversations))


def read_split(path: str | os.PathLike[str]) -> list[Conversation]:
    """A split written by `write_conversations` (validated again: it may have been edited)."""
    return list(read_conversations(path, "messages", RowPolicy("raise")))
