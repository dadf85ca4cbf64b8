"""One prompt at a time on ONNX Runtime GenAI, without the LM head's work on every prompt position.

The exported decoder computes the logits of every position of the prompt, of which generation
reads only the last: 97 of the 507 ms that a 397-token prompt's prefill takes on 2 cores
(bench/results/ask_profile.md). `last_token_model` rewrites an export's graph so that its LM
head reads the last position only (a Slice in front of it, where the model builder's
`prune_lm_head` puts a Gather), keeping the export's weights file; each position's logits are
computed row by row, so the last one's, and the greedy tokens, are the same.

A batch cannot use it: rows are padded on the right, and a shorter row's last position is a
pad. `LastTokenGenerator` therefore answers prompts one at a time (the samples of one prompt
share its length), which is what the service's /ask and `hybridrag ask` do.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hybridrag.chat.generation import ChatGenerator, Generated, Sampling
from hybridrag.chat.onnx import OnnxGenerator, cpu_threads
from hybridrag.chat.template import Messages

log = logging.getLogger("hybridrag.chat")

GENAI_CONFIG = "genai_config.json"
SLICE = "/last_token/Slice"
HEADS = ("MatMul", "MatMulNBits")  # an LM head without bias, scale or mask


def last_token_model(export_dir: Path) -> tuple[str, bytes]:
    """The decoder of `export_dir` (export_chat's) with its LM head on the last position: its
    file name and serialised graph, whose weights stay in the export's external data file.
    ValueError when the logits do not come straight from a product over the hidden states, or
    already have one position."""
    import onnx

    decoder = json.loads((export_dir / GENAI_CONFIG).read_text())["model"]["decoder"]
    filename, logits_name = decoder["filename"], decoder["outputs"]["logits"]
    model = onnx.load(export_dir / filename, load_external_data=False)
    nodes = list(model.graph.node)
    head = next((node for node in nodes if logits_name in node.output), None)
    if head is None or head.op_type not in HEADS:
        raise ValueError(f"{export_dir / filename}: the logits come from "
                         f"{head.op_type if head else 'no node'}, not a {' or '.join(HEADS)}")
    (logits,) = (output for output in model.graph.output if output.name == logits_name)
    positions = logits.type.tensor_type.shape.dim[1]
    if positions.dim_value == 1:
        raise ValueError(f"{export_dir / filename}: the LM head already reads one position")
    bounds = {"starts": -1, "ends": np.iinfo(np.int64).max, "axes": 1}
    model.graph.initializer.extend(onnx.numpy_helper.from_array(
        np.array([value], dtype=np.int64), f"{SLICE}/{name}") for name, value in bounds.items())
    last = onnx.helper.make_node("Slice", [head.input[0], *(f"{SLICE}/{name}" for name in bounds)],
                                 [f"{SLICE}/output_0"], name=SLICE)
    head.input[0] = f"{SLICE}/output_0"
    nodes.insert(nodes.index(head), last)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    positions.Clear()
    positions.dim_value = 1
    return filename, model.SerializeToString()


class LastTokenGenerator(OnnxGenerator):
    """An OnnxGenerator over the export in `export_dir` with its LM head on the last position
    (`last_token_model`, loaded from memory), answering one prompt at a time."""

    def __init__(self, export_dir: str | Path, threads: int | None = None):
        import onnxruntime_genai as og

        filename, graph = last_token_model(Path(export_dir))
        super().__init__(export_dir, threads)
        config = og.Config(str(export_dir))  # the export's settings, as OnnxGenerator's
        config.overlay(json.dumps({"model": {"pad_token_id": self.pad, "decoder": {
            "session_options": {"intra_op_num_threads": threads or cpu_threads()}}}}))
        config.add_model_data(filename, graph)
        self.model = og.Model(config)

    def replies(self, prompts: Sequence[Messages], max_new_tokens: int, batch_size: int,
                sampling: Sampling | None = None, samples: int = 1) -> list[Generated]:
        """As OnnxGenerator's, one prompt at a time whatever `batch_size` asks."""
        return super().replies(prompts, max_new_tokens, 1, sampling, samples)


def for_single_prompts(generator: ChatGenerator) -> ChatGenerator:
    """The generator that answers one question at a time fastest: for an OnnxGenerator, the
    same model with its LM head on the last position (or itself, saying why, when its graph is
    not one `last_token_model` knows); any other generator as it is."""
    if type(generator) is not OnnxGenerator:
        return generator
    try:
        return LastTokenGenerator(generator.folder)
    except ValueError as error:
        log.warning("generating with the LM head on every position: %s", error)
        return generator
