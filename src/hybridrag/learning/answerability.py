"""The answerability classifier the gate reads (choose_gate): the trained reranker fine-tuned
with binary cross-entropy on (question, passage, label) rows, 1 where the passage answers the
question. A reranker only orders passages; the gate needs a score that says whether the best
one answers at all, which SQuAD's impossible questions teach; the corpus's own queries
(make_pairs) are mixed in so that it still passes the queries the reranker was trained on."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hybridrag.answers.prompt import Trim
from hybridrag.answers.scoring import SentenceScorer
from hybridrag.config import AnswerabilityParams
from hybridrag.device import pick_device
from hybridrag.learning.pairs import Pair
from hybridrag.learning.reranker import fit_cross_encoder


def pair_rows(pairs: Sequence[Pair], limit: int, seed: int, trim: Trim
              ) -> list[tuple[str, str, float]]:
    """(query, passage, label) rows from a seeded `limit` of the corpus's query pairs: each
    query with its own passage (1) and the passage of a pair about another document (0), cut
    by `trim` as the product cuts its sources."""
    rng = random.Random(f"{seed}:answerability-pairs")
    rows = []
    for pair in rng.sample(list(pairs), min(limit, len(pairs))):
        others = [p for p in pairs if p.doc_id != pair.doc_id]
        if not others:
            raise ValueError("the corpus's query pairs are all about one document: no other "
                             "document's passage to teach what does not answer a query")
        rows += [(pair.query, trim(pair.passage), 1.0),
                 (pair.query, trim(rng.choice(others).passage), 0.0)]
    return rows


def pair_false_abstention(pairs: Sequence[Pair], score: SentenceScorer, trim: Trim,
                          threshold: float | None) -> dict[str, Any]:
    """The share of the corpus's queries that a gate at `threshold` would turn away although
    their relevant passage is among the sources: those whose passage, cut by `trim`, scores
    below it alone (an upper bound: the gate reads the best of the sources)."""
    below = (sum(float(score(pair.query, [trim(pair.passage)])[0]) < threshold for pair in pairs)
             if threshold is not None else 0)
    return {"queries": len(pairs),
            "false_abstention": round(below / len(pairs), 4) if pairs else None}


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
