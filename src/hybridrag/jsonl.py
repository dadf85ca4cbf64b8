"""Reading input rows that names the file and line of every problem; atomic JSONL writing."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from hybridrag.atomic import atomic_open
from hybridrag.errors import InputError


class RowPolicy:
    """What to do with a bad input row: raise at once, or skip it and count it by kind.

    Every skipped row or file is also listed by kind (`skipped_where`: "path:line: why").
    """

    max_examples = 20

    def __init__(self, on_error: Literal["raise", "skip"] = "raise"):
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.on_error = on_error
        self.examples: list[str] = []
        self.skipped_where: dict[str, list[str]] = {}

    def reject(self, error: InputError) -> None:
        """An error: raised, or skipped and counted, as the policy says."""
        if self.on_error == "raise":
            raise error
        self.count(error)

    def count(self, error: InputError) -> None:
        """Something always skipped, never an error (a duplicate, an unsupported file): counted."""
        self.skipped_where.setdefault(error.kind, []).append(str(error))
        if len(self.examples) < self.max_examples:
            self.examples.append(str(error))

    @property
    def skipped(self) -> Counter[str]:
        """How many rows or files were skipped, by kind."""
        return Counter({kind: len(where) for kind, where in self.skipped_where.items()})

    def skipped_record(self) -> dict[str, Any]:
        """What a stage's metrics say was skipped: the count, the count by kind, and every
        skipped row or file by kind."""
        return {"skipped_rows": sum(self.skipped.values()),
                "skipped_by_kind": dict(sorted(self.skipped.items())),
                "skipped": dict(sorted(self.skipped_where.items()))}

    def summary(self) -> dict[str, Any]:
        return {
            "skipped_rows": sum(self.skipped.values()),
            "skipped_by_kind": dict(sorted(self.skipped.items())),
            "examples": list(self.examples),
        }

    def warn_if_skipped(self) -> None:
        """Tell the user on stderr how many rows were skipped, so nothing is dropped silently."""
        total = sum(self.skipped.values())
        if total:
            kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.skipped.items()))
            print(f"warning: skipped {total} bad input row(s) ({kinds}); first: {self.examples[0]}",
                  file=sys.stderr)


def read_jsonl(
    path: str | os.PathLike[str], policy: RowPolicy | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; bad lines go to `policy`."""
    policy = policy or RowPolicy()
    file = Path(path)
    if not file.is_file():
        raise InputError(file, None, "file not found", "missing file")
    with file.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                policy.reject(InputError(
                    file, number, f"not valid JSON ({error.msg}, column {error.colno})",
                    "invalid JSON"))
                continue
            if not isinstance(value, dict):
                policy.reject(InputError(
                    file, number, f"expected a JSON object, got {type(value).__name__}",
                    "not an object"))
                continue
            yield number, value


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> int:
    """Write rows atomically, one compact JSON object per line; return the row count."""
    count = 0
    with atomic_open(path, "w") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False))
            handle.write("\n")
            count += 1
    return count
