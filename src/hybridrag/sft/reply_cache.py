"""Greedy replies kept on disk as they are generated, so that a long comparison stopped part-way
(killed, out of time, a crash) starts again where it stopped instead of from its first reply.

`CachedGenerator` wraps any ChatGenerator: it forms the batches the runtime itself forms
(`length_batches` over the prompts' token lengths), asks the runtime for one batch at a time and
commits each batch's replies to an SQLite file before the next, keyed by the model's
fingerprint, the batch's prompts and the settings. A batch generated alone is the batch a single
call generates, so the replies are the same as without the cache. Seeded sampling draws across
batches, so sampled replies are not cached."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from hybridrag.chat.generation import (
    ChatGenerator,
    Generated,
    Sampling,
    Stream,
    length_batches,
    prompt_ids,
)
from hybridrag.chat.template import Messages

# the packages whose versions change what a model generates
RUNTIME_PACKAGES = ("torch", "transformers", "peft", "onnxruntime-genai", "onnxruntime")


def model_fingerprint(folders: Sequence[Path], runtime: str, precision: str) -> str:
    """A digest of everything a model's replies depend on: every file of its folders (a run and
    the base it adapts), the runtime and precision, this package's code and the runtime
    packages' versions."""
    digest = hashlib.sha256(f"{runtime} {precision}".encode())
    for package in RUNTIME_PACKAGES:
        try:
            digest.update(f"{package}=={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package} absent".encode())
    code = Path(__file__).resolve().parents[1]
    for root in [*folders, code]:
        suffix = ".py" if root == code else ""
        for path in sorted(Path(root).rglob(f"*{suffix}")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode())
                with path.open("rb") as handle:
                    digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


class ReplyCache:
    """Replies by key in one SQLite file; every `put` is committed before it returns."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, value TEXT)")
        self._db.commit()
        self.hits = self.misses = 0

    def get(self, key: str) -> list[Generated] | None:
        row = self._db.execute("SELECT value FROM replies WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return [Generated(text, stopped, tuple(tokens)) for text, stopped, tokens in json.loads(row[0])]

    def put(self, key: str, replies: Sequence[Generated]) -> None:
        value = json.dumps([[r.text, r.stopped, list(r.tokens)] for r in replies])
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?)", (key, value))

    def remove(self) -> None:
        """Close and delete the file: the work it protected is done."""
        self._db.close()
        self.path.unlink(missing_ok=True)


class CachedGenerator:
    """`inner`'s greedy replies, batch by batch, from `cache` where it has them (ChatGenerator)."""

    def __init__(self, inner: ChatGenerator, cache: ReplyCache, fingerprint: str):
        self.inner, self.cache, self.fingerprint = inner, cache, fingerprint
        self.tokenizer: Any = inner.tokenizer
        self.runtime, self.precision = inner.runtime, inner.precision

    def replies(self, prompts: Sequence[Messages], max_new_tokens: int, batch_size: int,
                sampling: Sampling | None = None, samples: int = 1) -> list[Generated]:
        if sampling is not None:
            return self.inner.replies(prompts, max_new_tokens, batch_size, sampling, samples)
        lengths = [len(prompt_ids(self.tokenizer, p)) for p in prompts]
        generated: list[Generated | None] = [None] * len(prompts)
        for batch in length_batches(lengths, batch_size):
            chosen = [prompts[i] for i in batch]
            key = hashlib.sha256(json.dumps([self.fingerprint, max_new_tokens, chosen],
                                            sort_keys=True).encode()).hexdigest()
            replies = self.cache.get(key)
            if replies is None:
                replies = self.inner.replies(chosen, max_new_tokens, batch_size)
                self.cache.put(key, replies)
            for i, reply in zip(batch, replies, strict=True):
                generated[i] = reply
        return generated  # type: ignore[return-value]  # every slot filled

    def stream(self, prompt: Messages, max_new_tokens: int) -> Stream:
        return self.inner.stream(prompt, max_new_tokens)
