"""A sentence-transformers CrossEncoder scored by ONNX Runtime on CPU: the model's own
tokenisation (`preprocess`), then its classifier and activation exported together, so the
scores are `predict`'s to ~1e-6 (tested) in less time (bench/rerank_runtime.py). Import this
module only when needed: it imports torch and onnxruntime."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from hybridrag.onnx_export import TOKEN_INPUTS, cpu_session


class ActivatedScore(torch.nn.Module):
    """classifier logits -> activation -> one score per pair: what the exported graph computes."""

    def __init__(self, classifier: torch.nn.Module, activation: Callable[[torch.Tensor], torch.Tensor],
                 input_names: tuple[str, ...]):
        super().__init__()
        self.classifier = classifier
        self.activation = activation
        self.input_names = input_names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        named = dict(zip(self.input_names, inputs, strict=True))
        return self.activation(self.classifier(**named).logits).squeeze(-1)


class OnnxCrossEncoder:
    """`predict` of a one-label CrossEncoder, run by ONNX Runtime (`threads`: None uses every
    core; `quantize`: int8 weights, which change the scores slightly)."""

    def __init__(self, model: Any, threads: int | None = None, quantize: bool = False):
        if model.num_labels != 1:
            raise ValueError(f"only one-label cross-encoders are exported, not {model.num_labels}")
        self.preprocess = model.preprocess
        sample = self.preprocess([("an example query", "an example passage")])
        self.input_names = tuple(name for name in TOKEN_INPUTS if name in sample)
        scorer = ActivatedScore(model.transformers_model, model.activation_fn, self.input_names)
        self.session = cpu_session(scorer, {name: sample[name] for name in self.input_names},
                                   "score", threads, quantize)

    def predict(self, pairs: Sequence[tuple[str, str]], batch_size: int = 32,
                show_progress_bar: bool = False) -> np.ndarray:
        """One score per (query, passage) pair, `batch_size` pairs per forward pass."""
        scores = [np.zeros(0, dtype=np.float32)]
        for start in tqdm(range(0, len(pairs), batch_size), desc="Batches",
                          disable=not show_progress_bar):
            features = self.preprocess(list(pairs[start:start + batch_size]))
            scores.append(self.session.run(None, {name: features[name].numpy().astype(np.int64)
                                                  for name in self.input_names})[0])
        return np.concatenate(scores)
