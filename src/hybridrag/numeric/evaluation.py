"""Numeric answers scored: each row's reply generated (greedy) and its number parsed, and, for a
hybrid-loss run, the head's prediction read from the same forward pass over the prompt. Each
model's predictions are written on their own (predict_numeric), so that a run that retrains one
model (the regression-weight sweep) asks only that one again; the comparison reads them all.
A model can generate on ONNX Runtime GenAI in fp32 instead of transformers (the same greedy
tokens, about twice as fast on 2 CPU cores); a hybrid run is exported with its hidden states,
which its head reads there (within about 3e-5 of PyTorch's)."""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from hybridrag.chat.generation import (
    ChatGenerator,
    TransformersGenerator,
    length_batches,
    prompt_ids,
)
from hybridrag.jsonl import read_jsonl, write_jsonl
from hybridrag.metrics.numeric import numeric_metrics
from hybridrag.numeric.head import Normalizer, RegressionHead, final_norm
from hybridrag.numeric.numbers import format_number, parse_number
from hybridrag.numeric.rows import NumericRow


@dataclass(frozen=True)
class NumericPrediction:
    question_id: str | None
    target: float
    reply: str
    generated: float | None  # the reply's first number
    head: float | None  # the regression head's value (hybrid-loss runs only)


@contextmanager
def prompt_states(generator: ChatGenerator) -> Iterator[list[torch.Tensor]]:
    """Collects, per batch of prompts `generator` answers, the final hidden state of each row's
    last prompt token, which is where the head was trained to read (transformers: from the
    forward over whole prompts, not the one-token decoding steps after it, left-padded; ONNX
    Runtime GenAI: from an export with hidden states, after the prompt pass). Rows come in the
    order the generator batches them (`length_batches`)."""
    states: list[torch.Tensor] = []
    if isinstance(generator, TransformersGenerator):
        def keep(_module: Any, _inputs: Any, output: torch.Tensor) -> None:
            if output.shape[1] > 1:
                states.append(output[:, -1].detach().float())

        hook = final_norm(generator.model).register_forward_hook(keep)
        try:
            yield states
        finally:
            hook.remove()
        return
    from hybridrag.chat.onnx import OnnxGenerator

    if not isinstance(generator, OnnxGenerator):
        raise TypeError(f"no hidden states to read from a {type(generator).__name__}")
    generator.on_prompt_states = lambda hidden: states.append(torch.from_numpy(hidden).float())
    try:
        yield states
    finally:
        generator.on_prompt_states = None


def predict_numbers(generator: ChatGenerator, rows: Sequence[NumericRow], max_new_tokens: int,
                    batch_size: int, head: tuple[RegressionHead, Normalizer] | None = None
                    ) -> list[NumericPrediction]:
    """Greedy replies to each row's prompt (its messages before the reference reply)."""
    prompts = [row.messages[:-1] for row in rows]
    with prompt_states(generator) if head is not None else nullcontext([]) as states:
        replies = generator.replies(prompts, max_new_tokens, batch_size)
    values: list[float | None] = [None] * len(rows)
    if head is not None and rows:
        module, normalizer = head
        lengths = [len(prompt_ids(generator.tokenizer, p)) for p in prompts]
        order = [i for batch in length_batches(lengths, batch_size) for i in batch]
        with torch.inference_mode():
            batched = normalizer.denormalize(module(
                torch.cat(states).to(next(module.parameters()).device)).double()).tolist()
        for i, value in zip(order, batched, strict=True):
            values[i] = value
    return [NumericPrediction(row.question_id, row.target, reply.text, parse_number(reply.text),
                              value)
            for row, reply, value in zip(rows, replies, values, strict=True)]


EXAMPLES = "examples"  # the model-free baseline: the median of the prompt's solved examples


def example_medians(rows: Sequence[NumericRow]) -> list[NumericPrediction]:
    """What the solved examples alone say: each row's prediction is the median of the values of
    the examples its prompt shows (kNN regression over the training questions, the seed's
    retrieval without a model); the reply lists them. None where a row shows none."""
    return [NumericPrediction(row.question_id, row.target,
                              ", ".join(format_number(v) for v in row.example_values),
                              statistics.median(row.example_values) if row.example_values
                              else None, None)
            for row in rows]


def score_predictions(predictions: Sequence[NumericPrediction], tolerances: Sequence[float]
                      ) -> dict[str, Any]:
    """Metrics of the generated numbers and, when there are any, of the head's."""
    targets = [p.target for p in predictions]
    scores = {"generated": numeric_metrics([p.generated for p in predictions], targets, tolerances)}
    if predictions and all(p.head is not None for p in predictions):
        scores["head"] = numeric_metrics([p.head for p in predictions], targets, tolerances)
    return scores


Setting = tuple[str, str]  # (question set, context): the held-out rows asked one way
Cell = tuple[str, str, str]  # (question set, context, model): one run of the comparison
# Context pairs compared on the same questions and model: (context, against).
CONTEXT_PAIRS = (("semantic", "none"), ("semantic", "keyword"), ("keyword", "none"),
                 ("sources", "none"), ("both", "semantic"))


def paired_errors(first: Sequence[NumericPrediction], second: Sequence[NumericPrediction],
                  reader: str = "generated") -> list[float]:
    """Per question, |error of first| - |error of second|, where both gave a number."""
    pairs = []
    for a, b in zip(first, second, strict=True):
        x, y = getattr(a, reader), getattr(b, reader)
        if x is not None and y is not None:
            pairs.append(abs(x - a.target) - abs(y - b.target))
    return pairs


def comparisons(predictions: dict[Cell, list[NumericPrediction]], resamples: int, seed: int
                ) -> dict[str, Any]:
    """The differences the comparison is about, each with a bootstrap interval on the same
    questions, per question set: one context against another per model (CONTEXT_PAIRS), the
    hybrid loss against plain SFT per context, each model against its examples' median
    (EXAMPLES) where the prompt shows examples, and each tuned run's parse failures against the
    base model's."""
    from hybridrag.metrics.bootstrap import mean_difference

    def absolute(first: Cell, second: Cell) -> dict[str, Any] | None:
        return mean_difference(paired_errors(predictions[first], predictions[second]),
                               resamples, seed)

    result: dict[str, Any] = {}
    settings = sorted({(question_set, context) for question_set, context, _ in predictions})
    models = sorted({model for *_, model in predictions})
    for question_set in sorted({question_set for question_set, _ in settings}):
        for model in models:
            for context, against in CONTEXT_PAIRS:
                first, second = (question_set, context, model), (question_set, against, model)
                if first in predictions and second in predictions:
                    result[f"{question_set}: {model}: {context} - {against}, absolute error"] = \
                        absolute(first, second)
    for question_set, context in settings:
        cell = {model: (question_set, context, model) for model in models}
        if cell.get("hybrid") in predictions and cell.get("sft") in predictions:
            result[f"{question_set}: {context}: hybrid - sft, absolute error"] = absolute(
                cell["hybrid"], cell["sft"])
        if cell.get(EXAMPLES) in predictions:
            for model in (m for m in models if m != EXAMPLES and cell[m] in predictions):
                result[f"{question_set}: {context}: {model} - {EXAMPLES}, absolute error"] = \
                    absolute(cell[model], cell[EXAMPLES])
        for model in (m for m in models if m not in ("base", EXAMPLES) and "base" in cell):
            if cell[model] in predictions and cell["base"] in predictions:
                failures = [float(a.generated is None) - float(b.generated is None) for a, b in
                            zip(predictions[cell[model]], predictions[cell["base"]], strict=True)]
                result[f"{question_set}: {context}: {model} - base, parse failure"] = \
                    mean_difference(failures, resamples, seed)
    return result


def predict_settings(folder: Path, base_dir: Path, rows: dict[Setting, list[NumericRow]],
                     max_new_tokens: int, batch_size: int, device: str,
                     runtime: str = "transformers") -> dict[Setting, list[NumericPrediction]]:
    """One model's predictions on every setting's rows (empty ones skipped); a folder with a
    head also gets the head's values. `runtime` onnx: the model is exported to ONNX Runtime
    GenAI in fp32 (merged, in a temporary folder; with its hidden states when it has a head)
    and generates there."""
    from tqdm import tqdm

    from hybridrag.numeric.head import HEAD_CONFIG, load_head

    if not any(rows.values()):
        return {}  # nothing to ask: the model need not load
    with_head = (folder / HEAD_CONFIG).is_file()
    with tempfile.TemporaryDirectory(prefix="hybridrag-numeric-") as work:
        if runtime == "onnx":
            from hybridrag.chat.onnx import OnnxGenerator, export_run

            export_run(folder, base_dir, Path(work) / "onnx", "fp32", hidden_states=with_head)
            generator: ChatGenerator = OnnxGenerator(Path(work) / "onnx")
            head = load_head(folder) if with_head else None
        else:
            generator = TransformersGenerator.load(folder, base_dir, device)
            head = load_head(folder, str(generator.model.device)) if with_head else None
        return {setting: predict_numbers(generator, part, max_new_tokens, batch_size, head)
                for setting, part in tqdm(rows.items(), unit="setting", desc=(
                    f"predict_numeric {folder} ({generator.runtime} {generator.precision})"))
                if part}


def write_predictions(path: str | os.PathLike[str],
                      predictions: dict[Setting, list[NumericPrediction]]) -> None:
    """One JSON line per prediction, with its question set and context (atomic)."""
    write_jsonl(path, ({"question_set": question_set, "context": context, **asdict(p)}
                       for (question_set, context), part in predictions.items() for p in part))


def read_predictions(path: str | os.PathLike[str]) -> dict[Setting, list[NumericPrediction]]:
    """What `write_predictions` wrote, per setting in the order written."""
    predictions: dict[Setting, list[NumericPrediction]] = {}
    for _, record in read_jsonl(path):
        setting = (record.pop("question_set"), record.pop("context"))
        predictions.setdefault(setting, []).append(NumericPrediction(**record))
    return predictions


def sample_rows(predictions: dict[Cell, list[NumericPrediction]], questions: dict[str, list[str]],
                count: int) -> dict[str, list[dict[str, Any]]]:
    """Per question set, its first `count` questions side by side: the true value and every
    context's and model's reply."""
    samples = {}
    for question_set, texts in questions.items():
        keys = sorted(key for key in predictions if key[0] == question_set)
        if keys:
            first = predictions[keys[0]]
            samples[question_set] = [
                {"question": texts[i], "true": first[i].target,
                 **{f"{context} / {model}": predictions[question_set, context, model][i].reply
                    for _, context, model in keys}}
                for i in range(min(count, len(first)))]
    return samples
