"""A BERT-style model's inputs from the `tokenizers` library alone: texts or (query, passage)
pairs tokenised, truncated longest-first to the model's length and padded to the longest, as
transformers' fast tokenizer and sentence-transformers' `preprocess` give them (tests hold them
equal). The ONNX text encoder and cross-encoders take their inputs from it, so that a kept
export runs without importing transformers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # what BERT-style models take


class TokenFeatures:
    """Tokenise like a model's fast tokenizer, for the graph inputs `input_names`.

    `settings` (what `from_tokenizer` reads, and what an export keeps in its metadata): the
    tokenizer's JSON, the maximum length, and the padding token, its id and type id."""

    def __init__(self, settings: dict[str, Any]):
        from tokenizers import Tokenizer

        self.settings = settings
        self.input_names: tuple[str, ...] = tuple(settings["input_names"])
        self.tokenizer = Tokenizer.from_str(settings["tokenizer"])
        self.tokenizer.enable_truncation(settings["max_length"], strategy="longest_first")
        self.tokenizer.enable_padding(pad_id=settings["pad_id"], pad_token=settings["pad_token"],
                                      pad_type_id=settings["pad_type_id"])

    @classmethod
    def from_tokenizer(cls, tokenizer: Any, max_length: int, input_names: Sequence[str]
                       ) -> TokenFeatures:
        """From a transformers fast tokenizer (its backend tokenizer and padding token)."""
        return cls({"tokenizer": tokenizer.backend_tokenizer.to_str(), "max_length": max_length,
                    "pad_id": tokenizer.pad_token_id, "pad_token": tokenizer.pad_token,
                    "pad_type_id": tokenizer.pad_token_type_id,
                    "input_names": [name for name in TOKEN_INPUTS if name in input_names]})

    def __call__(self, inputs: Sequence[str] | Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
        """The graph's int64 inputs for texts, or for (query, passage) pairs."""
        encodings = self.tokenizer.encode_batch([i if isinstance(i, str) else tuple(i)
                                                 for i in inputs])
        columns = {"input_ids": "ids", "attention_mask": "attention_mask",
                   "token_type_ids": "type_ids"}
        return {name: np.array([getattr(e, columns[name]) for e in encodings], dtype=np.int64)
                for name in self.input_names}
