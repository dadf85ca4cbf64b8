"""The export with its LM head on each row's last position gives, in padded batches and one by
one, the tokens the export as written gives (run here by onnxruntime-genai directly), in fp32
and int8 (MatMul and MatMulNBits heads), and computes one position per row."""

import json

import numpy as np
import onnx
import pytest

from hybridrag.chat.generation import prompt_ids
from hybridrag.chat.last_position import last_position_decoder
from hybridrag.chat.models import load_tokenizer
from hybridrag.chat.onnx import PAD_TOKEN, OnnxGenerator, export_run
from hybridrag.chat.template import END_OF_TURN

from .test_onnx import PROMPTS


@pytest.fixture(scope="module", params=["fp32", "int8"])
def export(request, tmp_path_factory, varied_tiny_base):
    folder = tmp_path_factory.mktemp("onnx") / request.param
    export_run(varied_tiny_base, varied_tiny_base, folder, request.param)
    return folder


def greedy_as_written(export, prompt_tokens: list[list[int]], new_tokens: int) -> list[list[int]]:
    """Greedy tokens of a right-padded batch from the export's own graph (every position's
    logits), with onnxruntime-genai's generator alone."""
    import onnxruntime_genai as og

    tokenizer = load_tokenizer(export)
    pad, end = (tokenizer.convert_tokens_to_ids(t) for t in (PAD_TOKEN, END_OF_TURN))
    config = og.Config(str(export))
    config.overlay(json.dumps({"model": {"pad_token_id": pad}}))
    model = og.Model(config)
    width = max(map(len, prompt_tokens))
    padded = np.full((len(prompt_tokens), width), pad, dtype=np.int32)
    for i, row in enumerate(prompt_tokens):
        padded[i, :len(row)] = row
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=width + new_tokens, batch_size=len(prompt_tokens),
                              do_sample=False)
    generator = og.Generator(model, params)
    generator.append_tokens(padded)
    out: list[list[int]] = [[] for _ in prompt_tokens]
    while len(out[0]) < new_tokens and not generator.is_done():
        generator.generate_next_token()
        for row, token in zip(out, generator.get_next_tokens(), strict=True):
            if not row or row[-1] != end:
                row.append(int(token))
    return out


def test_padded_batches_give_the_tokens_of_the_export_as_written(export):
    tokenizer = load_tokenizer(export)
    ids = [prompt_ids(tokenizer, p) for p in PROMPTS[:4]]
    assert len({len(row) for row in ids}) > 1  # rows of different lengths: a padded batch
    expected = greedy_as_written(export, ids, 12)
    assert len({tuple(row) for row in expected}) == len(ids)  # varied replies: a real comparison
    generator = OnnxGenerator(export)
    assert [list(r.tokens) for r in generator.replies(PROMPTS[:4], 12, 4)] == [
        row[:row.index(generator.end)] if generator.end in row else row for row in expected]
    assert generator.replies(PROMPTS[:4], 12, 1) == generator.replies(PROMPTS[:4], 12, 4)
    for prompt, reply in zip(PROMPTS[:2], generator.replies(PROMPTS[:2], 12, 1), strict=True):
        stream = generator.stream(prompt, 12)
        assert "".join(stream).strip() == reply.text and stream.result == reply


def test_the_graph_computes_one_position_over_the_exports_weights(export):
    filename, graph_bytes = last_position_decoder(export)
    model = onnx.load_from_string(graph_bytes)
    (logits,) = (o for o in model.graph.output if o.name == "logits")
    assert filename == "model.onnx" and logits.type.tensor_type.shape.dim[1].dim_value == 1
    head = next(n for n in model.graph.node if "logits" in n.output)
    assert next(n for n in model.graph.node if head.input[0] in n.output).op_type == "Unsqueeze"
    external = {entry.value for tensor in model.graph.initializer
                for entry in tensor.external_data if entry.key == "location"}
    assert external == {"model.onnx.data"}  # the export's own weights file, not a copy
    (export / "model.onnx").rename(export / "full.onnx")  # an export already cut this way
    (export / "model.onnx").write_bytes(graph_bytes)
    try:
        with pytest.raises(ValueError, match="already reads one position"):
            last_position_decoder(export)
        assert OnnxGenerator(export).replies(PROMPTS[:1], 4, 1)[0].tokens  # loaded as it is
    finally:
        (export / "full.onnx").replace(export / "model.onnx")
