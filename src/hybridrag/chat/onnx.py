"""The chat model on ONNX Runtime GenAI, CPU: export (fp32, int8, int4) and generation.

Export: a trained run is first made one plain model (LoRA and QLoRA adapters merged into the
fp32 base, DPO into its start; prompt and prefix tuning cannot be merged and stay on
transformers), then onnxruntime-genai's model builder writes the decoder with its key-value
cache. Precisions:

- fp32: greedy tokens equal transformers' fp32 ones.
- int8: weights in int8 blocks of 32 (MatMulNBits), activations quantized to int8 inside each
  product (the builder's CPU default). Replies differ from fp32 ones in places; the answer
  scorer's metrics measure what that costs (bench/generation.py). Quantizing the activations of
  the whole graph instead (ONNX Runtime's dynamic quantization) made prefill 2x faster again but
  cut a reading probe's answers by two thirds (20% -> 7% of replies holding the answer).
- int4: weights in int4 blocks of 32, activations as int8.

Batches are padded on the right with <|endoftext|>, which a prompt never holds (ChatML's
<|im_end|> is both the end of every turn and the model's end of sequence, so it cannot pad).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hybridrag.atomic import atomic_directory
from hybridrag.chat.generation import (
    Generated,
    Sampling,
    Stream,
    length_batches,
    prompt_ids,
    reply_of,
    text_pieces,
)
from hybridrag.chat.last_position import kept_last_position_decoder
from hybridrag.chat.models import RUN_INFO, load_tokenizer, merged_model
from hybridrag.chat.template import END_OF_TURN, Messages
from hybridrag.chat.tokenizer import ChatTokenizer

log = logging.getLogger("hybridrag.chat")

PRECISIONS = ("fp32", "int8", "int4")
PAD_TOKEN = "<|endoftext|>"
HIDDEN_STATES = "hidden_states"  # the decoder's final norm output, with include_hidden_states
EXPORT_KIND = "onnx"
FINGERPRINT_BLOCK = 8 << 20


class NotExportable(ValueError):
    """The run cannot be exported (prompt or prefix tuning: nothing to merge into the weights)."""


def cpu_threads() -> int:
    """The CPUs this process may run on (ONNX Runtime's own default oversubscribes small machines:
    prefill took 2x longer on 2 cores)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def build_onnx(hf_folder: Path, out: Path, precision: str, work: Path,
               hidden_states: bool = False) -> None:
    """onnxruntime-genai's model builder over a plain HF folder (offline). Its LM head stays on
    every position: pruned to the last column (`prune_lm_head`), a right-padded row of a batch
    would take its first new token from a pad; OnnxGenerator picks each row's last position
    instead (chat.last_position). `hidden_states`: the decoder also outputs its final norm's
    output at every position (HIDDEN_STATES; a regression head reads it)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")
    command = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(hf_folder),
               "-o", str(out), "-p", precision, "-e", "cpu", "-c", str(work / "cache"),
               *(["--extra_options", "include_hidden_states=true"] if hidden_states else [])]
    result = subprocess.run(command, capture_output=True, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if result.returncode != 0:
        raise RuntimeError(f"the ONNX model builder failed on {hf_folder}:\n"
                           f"{(result.stdout + result.stderr)[-3000:]}")


def export_model(model: Any, tokenizer: Any, out: Path, precision: str, info: dict[str, Any],
                 hidden_states: bool = False) -> None:
    """Export an in-memory plain model (no adapters) to `out`, atomically, with `info` in run.json
    (`hidden_states`: see build_onnx)."""
    with tempfile.TemporaryDirectory(prefix="hybridrag-export-") as scratch:
        work = Path(scratch)
        model.save_pretrained(work / "hf")
        tokenizer.save_pretrained(work / "hf")
        with atomic_directory(out) as staging:
            build_onnx(work / "hf", staging, precision, work, hidden_states)
            tokenizer.save_pretrained(staging)  # our ChatML template, as transformers renders it
            (staging / RUN_INFO).write_text(json.dumps(
                {"kind": EXPORT_KIND, "precision": precision, **info}, indent=2) + "\n")


def fingerprint(folder: Path) -> str:
    """What the files of a model folder hold, cheaply: every file's path and size, small files
    whole and large ones (the weights) by their first and last 8 MB. A retrained run changes it."""
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder).as_posix()}\0{size}\0".encode())
        with path.open("rb") as handle:
            if size <= 2 * FINGERPRINT_BLOCK:
                digest.update(handle.read())
            else:
                digest.update(handle.read(FINGERPRINT_BLOCK))
                handle.seek(size - FINGERPRINT_BLOCK)
                digest.update(handle.read(FINGERPRINT_BLOCK))
    return digest.hexdigest()


def export_run(model_dir: Path, base_dir: Path, out: Path, precision: str,
               hidden_states: bool = False) -> dict[str, Any]:
    """Export the chat model in run folder `model_dir` (base, full, LoRA/QLoRA adapter or DPO);
    raises NotExportable for prompt and prefix tuning (`hidden_states`: see build_onnx). Returns
    what run.json records."""
    source = json.loads((model_dir / RUN_INFO).read_text())
    method = source.get("method")
    if source["kind"] == "adapter" and method not in ("lora", "qlora"):
        raise NotExportable(f"{model_dir} holds a {method} run, whose virtual tokens cannot be "
                            "merged into the weights; it answers on transformers")
    model = merged_model(model_dir, base_dir)
    info = {"source": str(model_dir), "source_run": source, "source_fingerprint": fingerprint(model_dir)}
    export_model(model, load_tokenizer(base_dir), out, precision, info, hidden_states)
    return info


def export_matches(export_dir: Path, model_dir: Path, precision: str,
                   source: str | None = None) -> str | None:
    """None when `export_dir` holds `model_dir`'s model (the files it was exported from, by
    their fingerprint) in `precision`; else why not, in words. `source`: the path the export
    recorded for the model, when the model has moved since (a revision's, fetched); by default
    `model_dir` itself."""
    info_file = export_dir / RUN_INFO
    if not info_file.is_file():
        return f"{export_dir} holds no export (run `dvc repro export_chat`)"
    info = json.loads(info_file.read_text())
    if info.get("kind") != EXPORT_KIND:
        return f"{export_dir}: {info.get('reason', 'not an ONNX export')}"
    recorded, expected = Path(info["source"]), Path(source) if source else model_dir
    if recorded != expected and recorded.resolve() != expected.resolve():
        return f"{export_dir} holds an export of {info['source']}, not of {expected}"
    if not model_dir.is_dir() or info.get("source_fingerprint") != fingerprint(model_dir):
        return f"{export_dir} was exported from an earlier {model_dir} (run `dvc repro export_chat`)"
    if info["precision"] != precision:
        return f"{export_dir} is {info['precision']}, not {precision}"
    return None


class OnnxGenerator:
    """A chat model exported by `export_run`, generating on ONNX Runtime GenAI with its LM head
    on each row's last position (chat.last_position). Each call runs its own generator state
    over the shared model, so concurrent requests do not interfere."""

    runtime = "onnx"

    def __init__(self, folder: str | os.PathLike[str], threads: int | None = None,
                 last_position: bool = True):
        """`last_position`: False runs the export's graph as written, every position's logits
        (benchmarks compare the two)."""
        import onnxruntime_genai as og

        self.folder = Path(folder)
        self.tokenizer = ChatTokenizer(folder)  # transformers' tokenizer, without importing it
        self.end = self.tokenizer.convert_tokens_to_ids(END_OF_TURN)
        self.pad = self.tokenizer.convert_tokens_to_ids(PAD_TOKEN)
        config = og.Config(str(folder))
        config.overlay(json.dumps({"model": {"pad_token_id": self.pad, "decoder": {
            "session_options": {"intra_op_num_threads": threads or cpu_threads()}}}}))
        self.last_position = last_position  # whether the head reads each row's last position only
        decoder = None  # the rewritten graph: onnxruntime-genai reads it in place, not a copy
        if last_position:
            try:
                decoder = kept_last_position_decoder(self.folder)
                config.add_model_data(*decoder)
            except ValueError as error:
                log.warning("generating with the LM head on every position: %s", error)
                self.last_position = False
        self.model = og.Model(config)
        del decoder  # only now: the model has parsed it
        self.precision: str = json.loads((self.folder / RUN_INFO).read_text())["precision"]
        # Called after each batch's prompt pass with the final hidden state of each row's last
        # prompt token (rows, hidden size), in the batches `replies` makes; only for an export
        # with hidden states (build_onnx). Not for concurrent use: the numeric head sets it.
        self.on_prompt_states: Callable[[np.ndarray], None] | None = None

    def replies(self, prompts: Sequence[Messages], max_new_tokens: int, batch_size: int,
                sampling: Sampling | None = None, samples: int = 1) -> list[Generated]:
        ids = [prompt_ids(self.tokenizer, p) for p in prompts]
        generated: list[Generated | None] = [None] * (len(prompts) * samples)
        for number, batch in enumerate(length_batches([len(row) for row in ids], batch_size)):
            rows = [ids[i] for i in batch for _ in range(samples)]
            seed = None if sampling is None else sampling.seed + number * batch_size * samples
            for n, tokens in enumerate(self._generate(rows, max_new_tokens, sampling, seed)):
                generated[batch[n // samples] * samples + n % samples] = reply_of(
                    self.tokenizer, tokens, self.end)
        return generated  # type: ignore[return-value]  # every slot filled

    def stream(self, prompt: Messages, max_new_tokens: int) -> Stream:
        tokens = (row[0] for row in self._steps([prompt_ids(self.tokenizer, prompt)],
                                                 max_new_tokens, None, None))
        return Stream(text_pieces(self.tokenizer, tokens, self.end))

    def _generate(self, batch: list[list[int]], max_new_tokens: int, sampling: Sampling | None,
                  seed: int | None) -> list[list[int]]:
        """Each row's new tokens, up to and including <|im_end|> or max_new_tokens of them."""
        out: list[list[int]] = [[] for _ in batch]
        for step in self._steps(batch, max_new_tokens, sampling, seed):
            for row, token in zip(out, step, strict=True):
                if not row or row[-1] != self.end:
                    row.append(token)
        return out

    def _steps(self, batch: list[list[int]], max_new_tokens: int, sampling: Sampling | None,
               seed: int | None) -> Iterator[list[int]]:
        """The next token of every row, step by step, until each has ended or the budget is spent."""
        import onnxruntime_genai as og

        width = max(len(row) for row in batch)
        padded = np.full((len(batch), width), self.pad, dtype=np.int32)
        for i, row in enumerate(batch):
            padded[i, :len(row)] = row
        params = og.GeneratorParams(self.model)
        options: dict[str, Any] = {"max_length": width + max_new_tokens, "batch_size": len(batch),
                                   "do_sample": sampling is not None}
        if sampling is not None:
            options |= {"temperature": sampling.temperature, "top_p": sampling.top_p,
                        "top_k": len(self.tokenizer), "random_seed": seed}
        params.set_search_options(**options)
        generator = og.Generator(self.model, params)
        generator.append_tokens(padded)
        if self.on_prompt_states is not None:
            hidden = generator.get_output(HIDDEN_STATES)  # (rows, width, hidden size)
            self.on_prompt_states(hidden[np.arange(len(batch)), [len(row) - 1 for row in batch]])
        ended = [False] * len(batch)
        for _ in range(max_new_tokens):
            if generator.is_done():
                return
            generator.generate_next_token()
            step = [int(t) for t in generator.get_next_tokens()]
            yield step
            ended = [e or t == self.end for e, t in zip(ended, step, strict=True)]
            if all(ended):
                return


def export_chat_model(model_dir: Path, base_dir: Path, out: Path, runtime: str, precision: str
                      ) -> str:
    """The export_chat stage: export `model_dir` when `runtime` is onnx; otherwise, or when the
    run cannot be merged, write a run.json that says why (the product then uses transformers).
    Returns what was done, in one line."""
    if runtime == "onnx":
        try:
            export_run(model_dir, base_dir, out, precision)
            return f"{model_dir} -> {out} (ONNX Runtime GenAI, {precision})"
        except NotExportable as error:
            reason = str(error)
    else:
        reason = f"answers.runtime is {runtime}: nothing to export"
    with atomic_directory(out) as staging:
        (staging / RUN_INFO).write_text(json.dumps(
            {"kind": "not_exported", "reason": reason, "source": str(model_dir)}, indent=2) + "\n")
    return f"not exported: {reason}"
