"""Numeric answers scored: each row's reply generated (greedy) and its number parsed, and, for a
hybrid-loss run, the head's prediction read from the same forward pass over the prompt."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from hybridrag.answers.generation import ChatGenerator
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
