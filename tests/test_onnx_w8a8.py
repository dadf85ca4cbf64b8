"""W8A8: a product computed per token and per channel as the formula says (numpy, by hand), a row
independent of the other rows, smoothing that helps an outlier channel, and a real export that
loads and keeps its logits."""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from hybridrag.onnx_w8a8 import (
    activation_maxima,
    empty_cache,
    matmul_inputs,
    quantize_w8a8,
    write_w8a8_export,
)


def has_vnni() -> bool:
    """Whether this x86 CPU has VNNI (AVX-512 or AVX): without it ONNX Runtime's u8 x s8
    products add pairs in 16 bits, which saturate, so int8 accuracy is not what the formula
    gives (measured: smoothing and the export's logits miss their bounds on an AVX2-only EPYC)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return True  # not Linux: nothing to tell; the checks run
    return "avx512_vnni" in flags or "avx_vnni" in flags


needs_vnni = pytest.mark.skipif(not has_vnni(), reason="int8 products saturate without VNNI "
                                "(an AVX2-only x86 CPU): the accuracy bounds hold on VNNI CPUs")

WEIGHT = np.array([[1.0, 0.0], [0.5, -1.0], [-2.0, 0.25]], np.float32)


def one_product(weight: np.ndarray = WEIGHT) -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="product")], "one",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, weight.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, weight.shape[1]])],
        [numpy_helper.from_array(weight, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x.astype(np.float32)})[0]


def by_hand(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per token: q = round(x / (max|x_row| / 127)); per column: round(w / (max|w_col| / 127))."""
    row_scale = np.abs(x).max(axis=1, keepdims=True) / 127
    column_scale = np.abs(weight).max(axis=0) / 127
    return (np.round(x / row_scale) @ np.round(weight / column_scale)) * column_scale * row_scale


def test_a_product_is_computed_per_token_and_per_channel():
    x = np.array([[1.0, -2.0, 0.3], [0.1, 0.2, -0.4]], np.float32)
    quantized = quantize_w8a8(one_product())
    assert [n.op_type for n in quantized.graph.node].count("MatMulInteger") == 1
    assert "w" not in {t.name for t in quantized.graph.initializer}  # the fp32 weight is gone
    got = run(quantized, x)
    np.testing.assert_allclose(got, by_hand(x, WEIGHT), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got, x @ WEIGHT, atol=0.03)  # and near the exact product


def test_a_row_does_not_depend_on_the_other_rows():
    row = np.array([[0.3, -0.7, 0.05]], np.float32)
    loud = np.array([[90.0, 0.0, -40.0]], np.float32)  # would set a per-tensor scale
    quantized = quantize_w8a8(one_product())
    assert np.array_equal(run(quantized, row)[0], run(quantized, np.vstack([row, loud]))[0])


@needs_vnni
def test_smoothing_moves_an_outlier_channel_into_the_weights():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(8, 4)).astype(np.float32)
    x = rng.normal(scale=0.05, size=(64, 8)).astype(np.float32)
    x[:, 0] = rng.normal(scale=40.0, size=64)  # one channel far louder than the others
    exact = x @ weight
    model = one_product(weight)
    maxima = {"x": np.abs(x).max(axis=0)}
    assert matmul_inputs(model) == ["x"]
    plain = run(quantize_w8a8(one_product(weight)), x)
    smoothed = run(quantize_w8a8(model, maxima, alpha=0.5), x)
    quiet = np.abs(exact) < 5  # the outputs the loud channel does not dominate
    assert (np.abs(smoothed - exact)[quiet].mean() < 0.5 * np.abs(plain - exact)[quiet].mean())


def test_a_shared_weight_stays_for_its_other_reader():
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="product"),
         helper.make_node("Transpose", ["w"], ["t"], name="other")], "tied",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2]),
         helper.make_tensor_value_info("t", TensorProto.FLOAT, [2, 3])],
        [numpy_helper.from_array(WEIGHT, "w")])
    model = quantize_w8a8(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    _, transposed = session.run(None, {"x": np.ones((1, 3), np.float32)})
    np.testing.assert_array_equal(transposed, WEIGHT.T)


@needs_vnni
@pytest.mark.parametrize("smoothed", [False, True])
def test_an_export_keeps_its_next_token_logits(onnx_chat, tmp_path, smol_tokenizer, smoothed):
    from hybridrag.chat.onnx import OnnxGenerator

    prompts = [smol_tokenizer(text)["input_ids"] for text in
               ("Where is the Eiffel Tower?", "Sources: [1] Paris is the capital of France.")]
    out = tmp_path / "w8a8"
    write_w8a8_export(onnx_chat, out, prompts if smoothed else None)
    written = (out / "model.onnx.data").stat().st_size
    write_w8a8_export(onnx_chat, out, prompts if smoothed else None)  # again, over the first
    assert (out / "model.onnx.data").stat().st_size == written  # replaced, not appended to
    assert json.loads((out / "run.json").read_text())["precision"] == (
        "w8a8 smoothed 0.5" if smoothed else "w8a8")
    exact, quantized = (last_logits(folder, prompts[0]) for folder in (onnx_chat, out))
    cosine = exact @ quantized / (np.linalg.norm(exact) * np.linalg.norm(quantized))
    assert cosine > 0.99
    assert OnnxGenerator(out).replies([[{"role": "user", "content": "Hi"}]], 4, 1)[0].tokens


def last_logits(export, ids) -> np.ndarray:
    session = ort.InferenceSession(str(export / "model.onnx"), providers=["CPUExecutionProvider"])
    tokens = np.array([ids], np.int64)
    feeds = {"input_ids": tokens, "attention_mask": np.ones_like(tokens), **empty_cache(export)}
    return session.run(["logits"], feeds)[0][0, -1]


def test_calibration_needs_a_prompt(onnx_chat):
    with pytest.raises(ValueError, match="at least one"):
        activation_maxima(onnx.load(onnx_chat / "model.onnx"), [], empty_cache(onnx_chat))
