"""Numeric answers scored: each row's reply generated (greedy) and its number parsed, and, for a
hybrid-loss run, the head's prediction read from the same forward pass over the prompt."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hybridrag.chat.generation import ChatGenerator, TransformersGenerator
from hybridrag.metrics.numeric import numeric_metrics
from hybridrag.numeric.head import Normalizer, RegressionHead, final_norm
from hybridrag.numeric.numbers import parse_number
from hybridrag.numeric.rows import NumericRow


@dataclass(frozen=True)
class NumericPrediction:
    question_id: str | None
    target: float
    reply: str
    generated: float | None  # the reply's first number
    head: float | None  # the regression head's value (hybrid-loss runs only)


@contextmanager
def prompt_states(model: torch.nn.Module) -> Iterator[list[torch.Tensor]]:
    """Collects, per forward over whole prompts (not the one-token decoding steps after it),
    the final hidden state of each row's last token: the last prompt token, as generation pads
    on the left, which is where the head was trained to read."""
    states: list[torch.Tensor] = []

    def keep(_module: Any, _inputs: Any, output: torch.Tensor) -> None:
        if output.shape[1] > 1:
            states.append(output[:, -1].detach().float())

    hook = final_norm(model).register_forward_hook(keep)
    try:
        yield states
    finally:
        hook.remove()


def predict_numbers(generator: ChatGenerator, rows: Sequence[NumericRow], max_new_tokens: int,
                    batch_size: int, head: tuple[RegressionHead, Normalizer] | None = None
                    ) -> list[NumericPrediction]:
    """Greedy replies to each row's prompt (its messages before the reference reply)."""
    prompts = [row.messages[:-1] for row in rows]
    with prompt_states(generator.model) as states:
        replies = generator.replies(prompts, max_new_tokens, batch_size)
    values: list[float | None] = [None] * len(rows)
    if head is not None and rows:
        module, normalizer = head
        with torch.inference_mode():
            hidden = torch.cat(states).to(next(module.parameters()).device)
            values = normalizer.denormalize(module(hidden).double()).tolist()
    return [NumericPrediction(row.question_id, row.target, reply.text, parse_number(reply.text),
                              value)
            for row, reply, value in zip(rows, replies, values, strict=True)]


def score_predictions(predictions: Sequence[NumericPrediction], tolerances: Sequence[float]
                      ) -> dict[str, Any]:
    """Metrics of the generated numbers and, when there are any, of the head's."""
    targets = [p.target for p in predictions]
    scores = {"generated": numeric_metrics([p.generated for p in predictions], targets, tolerances)}
    if predictions and all(p.head is not None for p in predictions):
        scores["head"] = numeric_metrics([p.head for p in predictions], targets, tolerances)
    return scores


CONTEXTS = ("none", "retrieved")  # prompts without sources, and with the retrieved ones


def paired_errors(first: Sequence[NumericPrediction], second: Sequence[NumericPrediction],
                  reader: str = "generated") -> list[float]:
    """Per question, |error of first| - |error of second|, where both gave a number."""
    pairs = []
    for a, b in zip(first, second, strict=True):
        x, y = getattr(a, reader), getattr(b, reader)
        if x is not None and y is not None:
            pairs.append(abs(x - a.target) - abs(y - b.target))
    return pairs


def comparisons(predictions: dict[tuple[str, str], list[NumericPrediction]], resamples: int,
                seed: int) -> dict[str, Any]:
    """The differences the issue asks about, each with a bootstrap interval on the same
    questions: retrieved vs no context per model, the hybrid loss vs plain SFT per context,
    and each tuned run's parse failures against the base model's."""
    from hybridrag.metrics.bootstrap import mean_difference

    models = sorted({model for model, _ in predictions})
    result: dict[str, Any] = {}
    for model in models:
        if (model, "retrieved") in predictions and (model, "none") in predictions:
            result[f"{model}: retrieved - none, absolute error"] = mean_difference(
                paired_errors(predictions[model, "retrieved"], predictions[model, "none"]),
                resamples, seed)
    for context in CONTEXTS:
        if ("hybrid", context) in predictions and ("sft", context) in predictions:
            result[f"{context}: hybrid - sft, absolute error"] = mean_difference(
                paired_errors(predictions["hybrid", context], predictions["sft", context]),
                resamples, seed)
        for model in (m for m in models if m != "base"):
            if (model, context) in predictions and ("base", context) in predictions:
                failures = [float(a.generated is None) - float(b.generated is None) for a, b in
                            zip(predictions[model, context], predictions["base", context],
                                strict=True)]
                result[f"{context}: {model} - base, parse failure"] = mean_difference(
                    failures, resamples, seed)
    return result


def evaluate_models(models: dict[str, Path], base_dir: Path, rows: dict[str, list[NumericRow]],
                    max_new_tokens: int, batch_size: int, device: str
                    ) -> dict[tuple[str, str], list[NumericPrediction]]:
    """Every model on every context's rows ({"none": ..., "retrieved": ...}; empty ones
    skipped), one model in memory at a time; a folder with a head also gets the head's values."""
    import gc

    from hybridrag.numeric.head import HEAD_CONFIG, load_head

    predictions: dict[tuple[str, str], list[NumericPrediction]] = {}
    if not any(rows.values()):
        return predictions  # nothing held out: no model needs loading
    for name, folder in models.items():
        generator = TransformersGenerator.load(folder, base_dir, device)
        head = (load_head(folder, str(generator.model.device))
                if (folder / HEAD_CONFIG).is_file() else None)
        for context, part in rows.items():
            if part:
                predictions[name, context] = predict_numbers(generator, part, max_new_tokens,
                                                             batch_size, head)
        del generator
        gc.collect()
    return predictions


def sample_rows(predictions: dict[tuple[str, str], list[NumericPrediction]], questions: list[str],
                count: int) -> list[dict[str, Any]]:
    """The first `count` questions side by side: the true year and every model's reply."""
    keys = sorted(predictions)
    if not keys:
        return []
    first = predictions[keys[0]]
    return [{"question": questions[i], "true": first[i].target,
             **{f"{model} / {context}": predictions[model, context][i].reply
                for model, context in keys}}
            for i in range(min(count, len(first)))]
