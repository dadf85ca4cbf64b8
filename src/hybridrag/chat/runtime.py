"""Which runtime a chat model generates on (answers.runtime, answers.precision): the exported
ONNX model when it is the one asked for, else transformers, saying why."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from hybridrag.chat.generation import ChatGenerator, TransformersGenerator
from hybridrag.chat.models import warn_if_untrained

log = logging.getLogger("hybridrag.chat")


def load_generator(model_dir: str | os.PathLike[str], base_dir: str | os.PathLike[str],
                   runtime: str, precision: str, export_dir: str | os.PathLike[str],
                   device: str = "auto", source: str | None = None) -> ChatGenerator:
    """The chat model in run folder `model_dir`: on ONNX Runtime GenAI when `runtime` is onnx and
    `export_dir` holds its export in `precision` (export_chat), else on transformers (with a
    warning when onnx was asked for). `source`: where the export says the model was, when it
    has moved since (a fetched revision's)."""
    if runtime == "onnx":
        from hybridrag.chat.onnx import OnnxGenerator, export_matches

        mismatch = export_matches(Path(export_dir), Path(model_dir), precision, source)
        if mismatch is None:
            warn_if_untrained(model_dir, base_dir)  # its export holds the base model
            return OnnxGenerator(export_dir)
        log.warning("answering on transformers, not onnx: %s", mismatch)
    return TransformersGenerator.load(model_dir, base_dir, device)


def run_generator(model_dir: Path, base_dir: Path, runtime: str, precision: str, work_dir: Path,
                  model: Any, tokenizer: Any) -> ChatGenerator:
    """A trained run compared with others (infer_compare): exported to `work_dir` and run on ONNX
    Runtime GenAI when `runtime` is onnx and the run can be merged, else `model` (the run,
    already loaded) on transformers."""
    if runtime == "onnx":
        from hybridrag.chat.onnx import NotExportable, OnnxGenerator, export_run

        try:
            export_run(model_dir, base_dir, work_dir, precision)
            return OnnxGenerator(work_dir)
        except NotExportable as error:
            log.info("%s", error)
    return TransformersGenerator(model, tokenizer)


def in_memory_generator(model: Any, tokenizer: Any, runtime: str, precision: str,
                        work_dir: Path, info: dict[str, Any]) -> ChatGenerator:
    """A generator for a plain model already loaded (DPO samples its start model's replies):
    exported to `work_dir` first when `runtime` is onnx (`info` goes to its run.json)."""
    if runtime != "onnx":
        return TransformersGenerator(model, tokenizer)
    from hybridrag.chat.onnx import OnnxGenerator, export_model

    export_model(model, tokenizer, work_dir, precision, info)
    return OnnxGenerator(work_dir)
