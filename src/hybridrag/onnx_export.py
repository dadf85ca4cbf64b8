"""A PyTorch module exported to ONNX and opened in ONNX Runtime on CPU, optionally with its
weights dynamically quantised to int8 (per output channel). The text encoder and the
cross-encoder are exported this way when they load: nothing is written beside the model.
Import this module only when needed: it imports torch and onnxruntime."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import onnxruntime
import torch

TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # what BERT-style models take


def cpu_session(module: torch.nn.Module, sample: dict[str, torch.Tensor], output: str,
                threads: int | None, quantize: bool) -> onnxruntime.InferenceSession:
    """`module` (called with `sample`'s tensors as positional inputs, in its order; every axis
    of every input and the output's first axis dynamic) as an ONNX Runtime CPU session.

    `threads`: None lets ONNX Runtime use every core; a number fixes the thread count, with
    helper threads that sleep when idle (a service sharing its cores). Sleeping threads
    matter there: spinning ones slowed the whole service (bench/service_latency.py: hybrid p50
    13.0 -> 9.8 ms on 2 cores)."""
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    names = list(sample)
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's tracer warnings are not ours to fix
        path = Path(folder) / "model.onnx"
        with torch.inference_mode():
            torch.onnx.export(
                module.eval(), tuple(sample.values()), str(path), input_names=names,
                output_names=[output], opset_version=17, dynamo=False,
                dynamic_axes={**{name: {0: "batch", 1: "tokens"} for name in names},
                              output: {0: "batch"}})
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantized = Path(folder) / "model.int8.onnx"
            quantize_dynamic(path, quantized, weight_type=QuantType.QInt8, per_channel=True)
            path = quantized
        return onnxruntime.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])
