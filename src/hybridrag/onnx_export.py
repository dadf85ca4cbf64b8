"""A PyTorch module exported to ONNX and opened in ONNX Runtime on CPU, optionally with its
weights dynamically quantised to int8 (per output channel). The text encoder and the
cross-encoder are exported this way when they load, nothing is written beside the model; the
exports are kept in a cache folder (`cache_folder`), so that a second load of the same weights
(the next `hybridrag ask`, a restarted service) opens the saved graph instead of exporting and
quantising again. Import this module only when needed: it imports torch and onnxruntime."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import logging
import os
import shutil
import tempfile
import warnings
from importlib import metadata
from pathlib import Path

import onnxruntime
import platformdirs
import torch

from hybridrag.atomic import atomic_open

log = logging.getLogger("hybridrag.onnx")

TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # what BERT-style models take
CACHE_ENV = "HYBRIDRAG_ONNX_CACHE"  # the cache folder; "off" exports at every load
CACHE_ENTRIES = 8  # exports kept, the most recently used (the default models take about 200 MB)
EXPORT_LIBRARIES = ("torch", "onnx", "onnxruntime", "transformers")  # they write or read the graph
CACHE_FORMAT = "1"  # what export_key hashes and how: a change invalidates every saved export


def cache_folder() -> Path | None:
    """Where exports are kept: $HYBRIDRAG_ONNX_CACHE, else the user's cache folder
    (~/.cache/hybridrag/onnx on Linux); None when the variable is "off"."""
    value = os.environ.get(CACHE_ENV, "")
    if value == "off":
        return None
    return Path(value) if value else Path(platformdirs.user_cache_dir("hybridrag")) / "onnx"


def installed_version(distribution: str) -> str:
    """`distribution`'s installed version ("" when it is not installed), imported or not."""
    try:
        return f"{distribution} {metadata.version(distribution)}"
    except metadata.PackageNotFoundError:
        return ""


def forward_source(module: torch.nn.Module) -> str:
    """The source of `module`'s class ("" where Python has none, e.g. a class typed at a prompt)."""
    try:
        return inspect.getsource(type(module))
    except (OSError, TypeError):
        return ""


def export_key(module: torch.nn.Module, sample: dict[str, torch.Tensor], output: str,
               quantize: bool) -> str:
    """What an export of `module` depends on, hashed: its weights (names, shapes, bytes), its
    structure and configuration, the source of its forward, the inputs' names and types, the
    quantisation and the versions of the libraries that write and read the graph."""
    digest = hashlib.blake2b(digest_size=20)

    def add(text: str) -> None:
        digest.update(text.encode())
        digest.update(b"\0")

    for part in (CACHE_FORMAT, *map(installed_version, EXPORT_LIBRARIES),
                 type(module).__qualname__, forward_source(module), repr(module),
                 output, str(quantize), *(f"{name} {tensor.dtype} {tensor.dim()}"
                                          for name, tensor in sample.items())):
        add(part)
    for submodule in module.modules():
        config = getattr(submodule, "config", None)
        if hasattr(config, "to_json_string"):
            add(config.to_json_string())
    for name, tensor in module.state_dict().items():
        add(f"{name} {tensor.dtype} {tuple(tensor.shape)}")
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def export_onnx(module: torch.nn.Module, sample: dict[str, torch.Tensor], output: str,
                quantize: bool, folder: Path) -> Path:
    """`module` exported into `folder` (every axis of every input and the output's first axis
    dynamic), quantised when asked; returns the graph's path."""
    names = list(sample)
    path = folder / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's tracer warnings are not ours to fix
        with torch.inference_mode():
            torch.onnx.export(
                module.eval(), tuple(sample.values()), str(path), input_names=names,
                output_names=[output], opset_version=17, dynamo=False,
                dynamic_axes={**{name: {0: "batch", 1: "tokens"} for name in names},
                              output: {0: "batch"}})
    if not quantize:
        return path
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantized = folder / "model.int8.onnx"
    quantize_dynamic(path, quantized, weight_type=QuantType.QInt8, per_channel=True)
    return quantized


def keep_export(path: Path, cache: Path, name: str) -> None:
    """Copy the export at `path` into `cache` as `name`, atomically (a reader sees all of it or
    none), then drop all but the CACHE_ENTRIES most recently used. A graph with its weights in
    separate files (over 2 GB) is not kept; a cache that cannot be written is only logged."""
    if any(p.suffix != ".onnx" for p in path.parent.iterdir()):
        return
    try:
        with atomic_open(cache / name, "wb") as handle, path.open("rb") as source:
            shutil.copyfileobj(source, handle)
        kept = sorted(cache.glob("*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in kept[CACHE_ENTRIES:]:
            stale.unlink(missing_ok=True)
    except OSError as error:
        log.warning("could not keep the ONNX export in %s (%s); the next load exports again",
                    cache, error)


def cpu_session(module: torch.nn.Module, sample: dict[str, torch.Tensor], output: str,
                threads: int | None, quantize: bool) -> onnxruntime.InferenceSession:
    """`module` (called with `sample`'s tensors as positional inputs, in its order) as an ONNX
    Runtime CPU session, from the cache when an export of the same module is kept there.

    `threads`: None lets ONNX Runtime use every core; a number fixes the thread count, with
    helper threads that sleep when idle (a service sharing its cores). Sleeping threads
    matter there: spinning ones slowed the whole service (bench/service_latency.py: hybrid p50
    13.0 -> 9.8 ms on 2 cores)."""
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")

    def open_session(path: Path) -> onnxruntime.InferenceSession:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    cache = cache_folder()
    name = f"{export_key(module, sample, output, quantize)}.onnx" if cache else ""
    if cache and (cache / name).is_file():
        try:
            session = open_session(cache / name)
        except Exception as error:  # a damaged file (ONNX Runtime's own error types): export again
            log.warning("the kept ONNX export %s does not open (%s); exporting again",
                        cache / name, error)
        else:
            with contextlib.suppress(OSError):
                (cache / name).touch()  # recently used: kept longest
            return session
    with tempfile.TemporaryDirectory() as folder:
        path = export_onnx(module, sample, output, quantize, Path(folder))
        if cache:
            keep_export(path, cache, name)
        return open_session(path)
