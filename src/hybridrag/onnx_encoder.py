"""A sentence-transformers text encoder run by ONNX Runtime on CPU: single queries for the
service, and bulk passages for the embed stage (embed.backend: onnx | onnx_int8).

The transformer, mean pooling and unit normalisation are exported together; the vectors
match torch's to ~1e-6 (tested), while one short query takes about a third of the time.
`quantize=True` dynamically quantises the weights of the exported graph to int8 (per output
channel), which changes the vectors slightly: bench/embed_backends.py measures the speed and
the retrieval quality. Import this module only when needed: it imports torch and onnxruntime.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from tqdm.auto import tqdm

from hybridrag.onnx_export import TOKEN_INPUTS, cpu_session


def exportable(encoder: SentenceTransformer) -> bool:
    """True for a plain transformer followed by mean pooling (and optionally Normalize)."""
    modules = list(encoder)
    names = [type(module).__name__ for module in modules]
    return (names in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"])
            and getattr(modules[1], "pooling_mode", None) == "mean"
            and hasattr(modules[0], "auto_model"))


class MeanPooledUnitEncoder(torch.nn.Module):
    """transformer -> mean over real tokens -> unit length: what the exported graph computes."""

    def __init__(self, transformer: torch.nn.Module, input_names: tuple[str, ...]):
        super().__init__()
        self.transformer = transformer
        self.input_names = input_names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        named = dict(zip(self.input_names, inputs, strict=True))
        hidden = self.transformer(**named).last_hidden_state
        mask = named["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)


class OnnxTextEncoder:
    """Unit-length embeddings from an ONNX export of `encoder` (which must be `exportable`).

    `threads`: None lets ONNX Runtime use every core (bulk encoding); a number fixes the
    thread count, with helper threads that sleep when idle (a service sharing its cores).
    """

    def __init__(self, encoder: SentenceTransformer, threads: int | None = 1,
                 quantize: bool = False):
        if not exportable(encoder):
            raise ValueError("only transformer + mean pooling models can be exported to ONNX")
        self.tokenizer = encoder.tokenizer
        self.max_length = encoder.max_seq_length
        self.dimension = int(encoder.get_embedding_dimension())
        sample = self.tokenizer(["an example query"], return_tensors="pt")
        self.input_names = tuple(name for name in TOKEN_INPUTS if name in sample)
        model = MeanPooledUnitEncoder(encoder[0].auto_model, self.input_names)
        self.session = cpu_session(model, {name: sample[name] for name in self.input_names},
                                   "embedding", threads, quantize)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One forward pass over `texts`, padded to the longest."""
        tokens = self.tokenizer(list(texts), return_tensors="np", padding=True, truncation=True,
                                max_length=self.max_length)
        feed = {name: tokens[name].astype(np.int64) for name in self.input_names}
        return np.ascontiguousarray(self.session.run(None, feed)[0], dtype=np.float32)

    def encode_many(self, texts: Sequence[str], batch_size: int = 64,
                    progress: bool = False) -> np.ndarray:
        """Batches of similar length (longest first, as sentence-transformers does), so little
        padding is computed; rows come back in the order of `texts`."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        rows: list[np.ndarray] = []
        for start in tqdm(range(0, len(order), batch_size), desc="Batches", disable=not progress):
            rows.append(self.encode([texts[i] for i in order[start:start + batch_size]]))
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        if rows:
            vectors[order] = np.concatenate(rows)
        return vectors
