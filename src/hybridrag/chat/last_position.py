"""An exported decoder whose LM head reads each row's last position only.

The model builder's decoder computes the logits of every prompt position (the head's product
over a 49,152-token vocabulary, and their memory), of which generation reads one per row: the
last real token, as rows are padded on the right. `last_position_decoder` rewrites the graph so
the head reads that position alone, found from the attention mask the runtime passes (ONNX
Runtime GenAI masks pads): in a prefill, row b's last position is its mask's sum minus one; when
tokens follow a cache (one per row in decoding), it is the last input position. The builder's
own `prune_lm_head` takes the last column, which in a padded batch is a pad. Each position's
logits are computed row by row, so the chosen rows' logits, and the greedy tokens, are the same.
The weights stay in the export's external data file; only the graph is rewritten, in memory,
and kept in the ONNX cache (`kept_last_position_decoder`), so the next load neither parses the
graph again nor imports onnx (over a second of a cold `hybridrag ask`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hybridrag.onnx_cache import cache_key, keep, kept_bytes

GENAI_CONFIG = "genai_config.json"
HEADS = ("MatMul", "MatMulNBits")  # an LM head without bias, scale or mask
PREFIX = "/last_position"


def last_position_decoder(export_dir: Path) -> tuple[str, bytes]:
    """The decoder of `export_dir` (export_run's) with its LM head on each row's last position:
    its file name and serialised graph, whose weights stay in the export's external data file.
    ValueError when the logits do not come straight from a product over the hidden states, or
    already have one position."""
    import onnx
    from onnx import helper, numpy_helper

    decoder = json.loads((export_dir / GENAI_CONFIG).read_text())["model"]["decoder"]
    filename, names = decoder["filename"], decoder["inputs"]
    logits_name = decoder["outputs"]["logits"]
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
    mask, ids, p = names["attention_mask"], names["input_ids"], PREFIX
    model.graph.initializer.extend([
        numpy_helper.from_array(np.array([1], np.int64), f"{p}/axis"),
        numpy_helper.from_array(np.array(1, np.int64), f"{p}/one"),
        numpy_helper.from_array(np.array(0, np.int64), f"{p}/zero")])
    picked = [
        # lengths[b] = sum(mask[b]); cached = total positions - input positions
        helper.make_node("ReduceSum", [mask, f"{p}/axis"], [f"{p}/lengths"], keepdims=1,
                         name=f"{p}/Lengths"),
        helper.make_node("Shape", [mask], [f"{p}/total"], start=1, end=2, name=f"{p}/Total"),
        helper.make_node("Shape", [ids], [f"{p}/inputs"], start=1, end=2, name=f"{p}/Inputs"),
        helper.make_node("Sub", [f"{p}/total", f"{p}/inputs"], [f"{p}/cached"],
                         name=f"{p}/Cached"),
        # last[b] = max(lengths[b] - cached - 1, 0): the row's last real input position (a
        # right-padded row's decoding step has one input position, 0)
        helper.make_node("Sub", [f"{p}/lengths", f"{p}/cached"], [f"{p}/ends"], name=f"{p}/Ends"),
        helper.make_node("Sub", [f"{p}/ends", f"{p}/one"], [f"{p}/index"], name=f"{p}/Index"),
        helper.make_node("Max", [f"{p}/index", f"{p}/zero"], [f"{p}/last"], name=f"{p}/Last"),
        helper.make_node("GatherND", [head.input[0], f"{p}/last"], [f"{p}/rows"], batch_dims=1,
                         name=f"{p}/Gather"),
        helper.make_node("Unsqueeze", [f"{p}/rows", f"{p}/axis"], [f"{p}/output_0"],
                         name=f"{p}/Unsqueeze")]
    head.input[0] = f"{p}/output_0"
    at = nodes.index(head)
    nodes[at:at] = picked
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    positions.Clear()
    positions.dim_value = 1
    return filename, model.SerializeToString()


def kept_last_position_decoder(export_dir: Path) -> tuple[str, bytes]:
    """`last_position_decoder(export_dir)`, from the ONNX cache when this export's graph was
    rewritten before (keyed by its graph, its configuration and this module's code)."""
    filename = json.loads((export_dir / GENAI_CONFIG).read_text())["model"]["decoder"]["filename"]
    name = cache_key(["last-position decoder", Path(__file__).read_text()],
                     [export_dir / GENAI_CONFIG, export_dir / filename])
    graph = kept_bytes(f"{name}.onnx")
    if graph is None:
        filename, graph = last_position_decoder(export_dir)
        keep(graph, f"{name}.onnx")
    return filename, graph
