"""Int8 compute for a chat export: int8 weights and int8 activations (W8A8), measured, not used.

The product's int8 export (the model builder's MatMulNBits, 8-bit weights in blocks of 32)
computes at about the speed of fp32 on 2 AVX-512 cores (254 against 222 GOPS for one 400 x 576
x 1536 product, ONNX Runtime 1.32), while ONNX Runtime's MatMulInteger (uint8 activations, int8
weights) runs the same product at 582 GOPS. `quantize_w8a8` rewrites an fp32 export's products
over constant weights so: each weight column to int8 with its own scale (per output channel),
each activation row to int8 with its own scale (per token, quantized as the graph runs, so a
row's result does not depend on the other rows of a batch), optionally smoothed first
(SmoothQuant: each input channel divided by s_j = max|X_j|^alpha / max|W_j|^(1 - alpha), with
max|X_j| from calibration prompts, and the weight's row j multiplied by it, which leaves the
product unchanged in exact arithmetic and moves outliers from the activations into the weights).
bench/activation_quantization.py measures its speed and answer quality against the exports.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

WEIGHTS_FILE = "model.onnx.data"
MODEL_FILE = "model.onnx"
ZERO_POINT = 128  # activations are stored as uint8 around it: ONNX Runtime's fast kernel is u8 x s8
LEVELS = 127  # symmetric int8: both weights and activations in [-127, 127]
SMALLEST = 1e-12  # the least row or column peak: an all-zero one gets a scale, not a denormal


def matmul_inputs(model: object) -> list[str]:
    """The activations that products over constant 2-D fp32 weights read (each once)."""
    weights = _weights(model)
    return list(dict.fromkeys(node.input[0] for node in model.graph.node  # type: ignore[attr-defined]
                              if _quantizable(node, weights)))


def empty_cache(export: Path) -> dict[str, np.ndarray]:
    """The key-value inputs of an export's decoder (ONNX Runtime GenAI's config) with nothing
    cached yet: a prompt's prefill."""
    from hybridrag.chat.last_position import GENAI_CONFIG

    decoder = json.loads((export / GENAI_CONFIG).read_text())["model"]["decoder"]
    empty = np.zeros((1, decoder["num_key_value_heads"], 0, decoder["head_size"]), np.float32)
    names = decoder["inputs"]
    return {names[kind] % layer: empty for layer in range(decoder["num_hidden_layers"])
            for kind in ("past_key_names", "past_value_names")}


def activation_maxima(model: object, prompts: Iterable[Sequence[int]],
                      cache: dict[str, np.ndarray], threads: int | None = None
                      ) -> dict[str, np.ndarray]:
    """Each product input's largest absolute value per channel over the prompts' prefills
    (`model`: an fp32 decoder of the ONNX Runtime GenAI model builder; `cache`: empty_cache)."""
    import onnx
    import onnxruntime as ort

    from hybridrag.chat.onnx import cpu_threads

    names = matmul_inputs(model)
    probe = onnx.ModelProto()
    probe.CopyFrom(model)  # type: ignore[arg-type]
    probe.graph.output.extend(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
                              for name in names)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or cpu_threads()
    session = ort.InferenceSession(probe.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    maxima: dict[str, np.ndarray] = {}
    for ids in prompts:
        tokens = np.array([list(ids)], np.int64)
        outputs = session.run(names, {"input_ids": tokens, "attention_mask": np.ones_like(tokens),
                                      **cache})
        for name, value in zip(names, outputs, strict=True):
            peak = np.abs(value.reshape(-1, value.shape[-1])).max(axis=0)
            maxima[name] = np.maximum(maxima[name], peak) if name in maxima else peak
    if not maxima:
        raise ValueError("no calibration prompt: activation maxima need at least one")
    return maxima


def quantize_w8a8(model: object, maxima: dict[str, np.ndarray] | None = None, alpha: float = 0.5
                  ) -> object:
    """`model` (an onnx ModelProto, weights loaded) with every product over constant 2-D fp32
    weights computed in int8, per output channel and per token; smoothed with `alpha` when
    `maxima` (activation_maxima) are given. Modifies and returns `model`."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph  # type: ignore[attr-defined]
    weights = _weights(model)
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    weight_peaks: dict[str, np.ndarray] = {}  # per activation: its weights' largest |row| values
    for node in graph.node:
        if _quantizable(node, weights):
            peak = np.abs(numpy_helper.to_array(weights[node.input[1]])).max(axis=1)
            x = node.input[0]
            weight_peaks[x] = np.maximum(weight_peaks[x], peak) if x in weight_peaks else peak
    shared = "/w8a8"
    added = [numpy_helper.from_array(np.array([-1], np.int64), f"{shared}/last_axis"),
             numpy_helper.from_array(np.array(1 / LEVELS, np.float32), f"{shared}/per_level"),
             numpy_helper.from_array(np.array(SMALLEST, np.float32), f"{shared}/smallest"),
             numpy_helper.from_array(np.array(ZERO_POINT, np.float32), f"{shared}/shift"),
             numpy_helper.from_array(np.array(ZERO_POINT, np.uint8), f"{shared}/zero_point")]
    nodes, quantized = [], {}  # activation -> (uint8 tensor, its per-token scale, smoothing)
    for node in graph.node:
        if not _quantizable(node, weights):
            nodes.append(node)
            continue
        x = node.input[0]
        if x not in quantized:
            smoothing = (None if maxima is None else
                         (np.maximum(maxima[x], 1e-5) ** alpha /
                          np.maximum(weight_peaks[x], 1e-5) ** (1 - alpha)).astype(np.float32))
            prefix = f"{shared}/{len(quantized)}"
            source = x
            if smoothing is not None:
                added.append(numpy_helper.from_array(1 / smoothing, f"{prefix}/inverse_smoothing"))
                nodes.append(helper.make_node("Mul", [x, f"{prefix}/inverse_smoothing"],
                                              [f"{prefix}/smoothed"], name=f"{prefix}/Smooth"))
                source = f"{prefix}/smoothed"
            nodes += _quantize_rows(helper, TensorProto, source, prefix, shared)
            quantized[x] = (f"{prefix}/quantized", f"{prefix}/scale", smoothing)
        q, scale, smoothing = quantized[x]
        matrix = numpy_helper.to_array(weights[node.input[1]]).astype(np.float32)
        if smoothing is not None:
            matrix = matrix * smoothing[:, None]
        column_scale = np.maximum(np.abs(matrix).max(axis=0), SMALLEST) / LEVELS
        prefix = f"{node.name or node.output[0]}/w8a8"
        added += [numpy_helper.from_array(
                      np.clip(np.round(matrix / column_scale), -LEVELS, LEVELS).astype(np.int8),
                      f"{prefix}/weight"),
                  numpy_helper.from_array(column_scale.astype(np.float32), f"{prefix}/weight_scale")]
        nodes += [
            helper.make_node("MatMulInteger", [q, f"{prefix}/weight", f"{shared}/zero_point"],
                             [f"{prefix}/sums"], name=f"{prefix}/MatMulInteger"),
            helper.make_node("Cast", [f"{prefix}/sums"], [f"{prefix}/float"],
                             to=TensorProto.FLOAT, name=f"{prefix}/Cast"),
            helper.make_node("Mul", [f"{prefix}/float", f"{prefix}/weight_scale"],
                             [f"{prefix}/columns"], name=f"{prefix}/ScaleColumns"),
            helper.make_node("Mul", [f"{prefix}/columns", scale], list(node.output),
                             name=f"{prefix}/ScaleRows")]
        if uses[node.input[1]] == 1:  # a weight also read elsewhere (tied embeddings) stays
            graph.initializer.remove(weights[node.input[1]])
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(added)
    return model


def write_w8a8_export(fp32_export: Path, out: Path, calibration: Iterable[Sequence[int]] | None,
                      alpha: float = 0.5) -> None:
    """A copy of an fp32 export (export_run's) with its decoder quantized by `quantize_w8a8`,
    smoothed on `calibration` prompts' token ids (None: not smoothed)."""
    import onnx

    from hybridrag.atomic import atomic_directory
    from hybridrag.chat.models import RUN_INFO

    model = onnx.load(fp32_export / MODEL_FILE)
    maxima = (None if calibration is None else
              activation_maxima(model, calibration, empty_cache(fp32_export)))
    quantize_w8a8(model, maxima, alpha)
    info = json.loads((fp32_export / RUN_INFO).read_text())
    info["precision"] = "w8a8" if maxima is None else f"w8a8 smoothed {alpha:g}"
    with atomic_directory(out) as staging:  # onnx appends to a weights file already there
        for path in fp32_export.iterdir():
            if not path.name.startswith(MODEL_FILE) and path.name != RUN_INFO:
                shutil.copy2(path, staging / path.name)
        onnx.save(model, staging / MODEL_FILE, save_as_external_data=True,
                  location=WEIGHTS_FILE)
        (staging / RUN_INFO).write_text(json.dumps(info, indent=2) + "\n")


def _weights(model: object) -> dict[str, object]:
    from onnx import TensorProto

    return {t.name: t for t in model.graph.initializer  # type: ignore[attr-defined]
            if len(t.dims) == 2 and t.data_type == TensorProto.FLOAT}


def _quantizable(node: object, weights: dict[str, object]) -> bool:
    return node.op_type == "MatMul" and node.input[1] in weights  # type: ignore[attr-defined]


def _quantize_rows(helper: object, types: object, x: str, prefix: str, shared: str) -> list:
    """Nodes writing x's rows as uint8 around ZERO_POINT (`prefix`/quantized) with each row's
    scale, its largest absolute value over LEVELS (`prefix`/scale)."""
    make = helper.make_node  # type: ignore[attr-defined]
    return [
        make("Abs", [x], [f"{prefix}/abs"], name=f"{prefix}/Abs"),
        make("ReduceMax", [f"{prefix}/abs", f"{shared}/last_axis"], [f"{prefix}/peak"],
             keepdims=1, name=f"{prefix}/ReduceMax"),
        make("Max", [f"{prefix}/peak", f"{shared}/smallest"], [f"{prefix}/positive"],
             name=f"{prefix}/Max"),
        make("Mul", [f"{prefix}/positive", f"{shared}/per_level"], [f"{prefix}/scale"],
             name=f"{prefix}/Scale"),
        make("Div", [x, f"{prefix}/scale"], [f"{prefix}/levels"], name=f"{prefix}/Div"),
        make("Round", [f"{prefix}/levels"], [f"{prefix}/rounded"], name=f"{prefix}/Round"),
        make("Add", [f"{prefix}/rounded", f"{shared}/shift"], [f"{prefix}/shifted"],
             name=f"{prefix}/Shift"),
        make("Cast", [f"{prefix}/shifted"], [f"{prefix}/quantized"],
             to=types.UINT8, name=f"{prefix}/Cast")]  # type: ignore[attr-defined]
