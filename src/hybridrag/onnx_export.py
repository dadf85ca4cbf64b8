"""A PyTorch module exported to ONNX and opened in ONNX Runtime on CPU, optionally with its
weights dynamically quantised to int8 (per output channel). The text encoder and the
cross-encoder are exported this way when they load, nothing is written beside the model; the
exports are kept in the cache folder (hybridrag.onnx_cache), so that a second load of the same
weights (the next `hybridrag ask`, a restarted service) opens the saved graph instead of
exporting and quantising again. Import this module only when needed: it imports torch."""

from __future__ import annotations

import hashlib
import inspect
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from hybridrag.onnx_cache import METADATA_KEY, cache_key, keep, kept_session, open_session


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
    quantisation (and, through `cache_key`, the versions of the libraries)."""
    parts = [type(module).__qualname__, forward_source(module), repr(module), output, str(quantize),
             *(f"{name} {tensor.dtype} {tensor.dim()}" for name, tensor in sample.items())]
    for submodule in module.modules():
        config = getattr(submodule, "config", None)
        if hasattr(config, "to_json_string"):
            parts.append(config.to_json_string())
    weights = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        weights.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}\0".encode())
        weights.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return cache_key([*parts, weights.hexdigest()])


def export_onnx(module: torch.nn.Module, sample: dict[str, torch.Tensor], output: str,
                quantize: bool, folder: Path, properties: dict[str, Any] | None = None) -> Path:
    """`module` exported into `folder` (every axis of every input and the output's first axis
    dynamic), quantised when asked, with `properties` (JSON) in the graph's metadata; returns
    the graph's path."""
    import onnx

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
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantized = folder / "model.int8.onnx"
        quantize_dynamic(path, quantized, weight_type=QuantType.QInt8, per_channel=True)
        path.unlink()
        path = quantized
    if properties is not None:
        graph = onnx.load(str(path))
        onnx.helper.set_model_props(graph, {METADATA_KEY: json.dumps(properties)})
        onnx.save(graph, str(path))
    return path


def cpu_session(module: torch.nn.Module, sample: dict[str, torch.Tensor], output: str,
                threads: int | None, quantize: bool, name: str | None = None,
                properties: dict[str, Any] | None = None) -> Any:
    """`module` (called with `sample`'s tensors as positional inputs, in its order) as an ONNX
    Runtime CPU session (threads: hybridrag.onnx_cache.session_options), from the cache when an
    export of the same module is kept there. `name`: the cache entry (default: `export_key`,
    the module's own hash; a model folder's loader names it by the folder's files, so that the
    next load opens it without building the module); `properties` go into the graph's metadata."""
    name = name or f"{export_key(module, sample, output, quantize)}.onnx"
    session = kept_session(name, threads)
    if session is not None:
        return session
    with tempfile.TemporaryDirectory() as folder:
        path = export_onnx(module, sample, output, quantize, Path(folder), properties)
        keep(path, name)
        return open_session(path, threads)
