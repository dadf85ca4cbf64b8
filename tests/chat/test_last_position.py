"""The export with its LM head on the last position gives the tokens the full export gives, one
prompt at a time, in fp32 and int8 (MatMul and MatMulNBits heads), and computes one position."""

import onnx
import pytest

from hybridrag.chat.generation import TransformersGenerator
from hybridrag.chat.onnx import OnnxGenerator, export_run
from hybridrag.onnx_last_token import LastTokenGenerator, for_single_prompts, last_token_model

from .chat.test_onnx import PROMPTS


@pytest.fixture(scope="module", params=["fp32", "int8"])
def export(request, tmp_path_factory, varied_tiny_base):
    folder = tmp_path_factory.mktemp("onnx") / request.param
    export_run(varied_tiny_base, varied_tiny_base, folder, request.param)
    return folder


def test_one_prompt_at_a_time_gives_the_full_exports_tokens(export):
    expected = OnnxGenerator(export).replies(PROMPTS, 12, 1)
    assert len({r.tokens for r in expected}) == len(PROMPTS)  # varied replies: a real comparison
    last_token = LastTokenGenerator(export)
    assert last_token.replies(PROMPTS, 12, 4) == expected  # a padded batch of 4 is not run
    assert last_token.precision == OnnxGenerator(export).precision
    for prompt, reply in zip(PROMPTS[:3], expected, strict=False):
        stream = last_token.stream(prompt, 12)
        assert "".join(stream).strip() == reply.text and stream.result == reply


def test_the_graph_computes_one_position_over_the_exports_weights(export):
    filename, graph_bytes = last_token_model(export)
    model = onnx.load_from_string(graph_bytes)
    (logits,) = (o for o in model.graph.output if o.name == "logits")
    assert filename == "model.onnx" and logits.type.tensor_type.shape.dim[1].dim_value == 1
    head = next(n for n in model.graph.node if "logits" in n.output)
    assert next(n for n in model.graph.node if head.input[0] in n.output).op_type == "Slice"
    external = {entry.value for tensor in model.graph.initializer
                for entry in tensor.external_data if entry.key == "location"}
    assert external == {"model.onnx.data"}  # the export's own weights file, not a copy
    (export / "model.onnx").rename(export / "full.onnx")  # an export already cut this way
    (export / "model.onnx").write_bytes(graph_bytes)
    try:
        with pytest.raises(ValueError, match="already reads one position"):
            last_token_model(export)
    finally:
        (export / "full.onnx").replace(export / "model.onnx")


def test_only_onnx_generators_are_swapped(export, varied_tiny_base):
    assert isinstance(for_single_prompts(OnnxGenerator(export)), LastTokenGenerator)
    transformers = TransformersGenerator.load(varied_tiny_base, varied_tiny_base, "cpu")
    assert for_single_prompts(transformers) is transformers
