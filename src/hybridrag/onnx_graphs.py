"""What the exported graphs of the text encoder and the cross-encoder compute, and their
export from a sentence-transformers model (torch): transformer -> mean pooling -> unit length,
and classifier -> activation -> one score. Import this module only when a model must be
exported: it imports torch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from hybridrag.onnx_export import cpu_session
from hybridrag.token_features import TokenFeatures

LONG_TEXT = "word " * 4096  # longer than any model reads: tokenised, it shows the model's cut


def exportable(encoder: Any) -> bool:
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


def sample_inputs(features: TokenFeatures, example: str | tuple[str, str]) -> dict[str, torch.Tensor]:
    return {name: torch.from_numpy(array) for name, array in features([example]).items()}


def text_encoder_session(encoder: Any, threads: int | None, quantize: bool,
                         name: str | None = None) -> tuple[Any, dict[str, Any]]:
    """A SentenceTransformer (`exportable`) as an ONNX Runtime session of unit-length
    embeddings, and what running it needs (its tokenizer settings and dimension), which the
    graph keeps too. `name`: its cache entry (default: the module's hash)."""
    if not exportable(encoder):
        raise ValueError("only transformer + mean pooling models can be exported to ONNX")
    sample = encoder.tokenizer(["an example query"], return_tensors="pt")
    features = TokenFeatures.from_tokenizer(encoder.tokenizer, encoder.max_seq_length, list(sample))
    settings = {**features.settings, "dimension": int(encoder.get_embedding_dimension())}
    module = MeanPooledUnitEncoder(encoder[0].auto_model, features.input_names)
    return cpu_session(module, sample_inputs(features, "an example query"), "embedding", threads,
                       quantize, name, settings), settings


def cross_encoder_session(model: Any, threads: int | None, quantize: bool,
                          name: str | None = None) -> tuple[Any, dict[str, Any]]:
    """A one-label sentence-transformers CrossEncoder as an ONNX Runtime session of its
    activated scores, and its tokenizer settings (its own length: `preprocess` of a pair longer
    than it reads), which the graph keeps too. `name`: its cache entry (default: the module's
    hash)."""
    if model.num_labels != 1:
        raise ValueError(f"only one-label cross-encoders are exported, not {model.num_labels}")
    probe = model.preprocess([(LONG_TEXT, LONG_TEXT)])
    features = TokenFeatures.from_tokenizer(model.tokenizer, int(probe["input_ids"].shape[1]),
                                            list(probe))
    module = ActivatedScore(model.transformers_model, model.activation_fn, features.input_names)
    sample = sample_inputs(features, ("an example query", "an example passage"))
    return cpu_session(module, sample, "score", threads, quantize, name,
                       features.settings), features.settings
