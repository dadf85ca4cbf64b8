"""The answerability classifier the gate reads (choose_gate): the trained reranker fine-tuned
with binary cross-entropy on (question, passage, label) rows, 1 where the passage answers the
question. A reranker only orders passages; the gate needs a score that says whether the best
one answers at all, which SQuAD's impossible questions teach."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hybridrag.config import AnswerabilityParams
from hybridrag.device import pick_device
from hybridrag.learning.reranker import fit_cross_encoder


def train_answerability(rows: Sequence[tuple[str, str, float]], reranker: Path,
                        params: AnswerabilityParams, checkpoints: Path) -> Any:
    """The cross-encoder of `reranker` (a train_reranker folder) fine-tuned on `rows`."""
    from sentence_transformers import CrossEncoder
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    model = CrossEncoder(str(reranker), num_labels=1, max_length=params.max_length,
                         device=pick_device(params.device))
    columns = {"query": [r[0] for r in rows], "passage": [r[1] for r in rows],
               "label": [r[2] for r in rows]}
    fit_cross_encoder(model, columns, BinaryCrossEntropyLoss(model), params, checkpoints)
    return model
