"""Retriever hits at document level, and the collapse of chunk hits into them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hybridrag.ranking import rank_scores


@dataclass(frozen=True)
class Hit:
    """A document as one retriever ranked it: its best chunk, that chunk's score, its rank."""

    doc_id: str
    chunk_id: int
    score: float
    rank: int  # 1-based


def collapse_chunks(chunk_scores: Iterable[tuple[int, float]], chunk_doc: Mapping[int, str],
                    depth: int) -> list[Hit]:
    """Document hits scored by their best chunk, ranked with the shared tie break."""
    best: dict[str, tuple[float, int]] = {}
    for chunk_id, score in chunk_scores:
        doc_id = chunk_doc[chunk_id]
        if doc_id not in best or score > best[doc_id][0]:
            best[doc_id] = (score, chunk_id)
    ranked = rank_scores({doc: score for doc, (score, _) in best.items()}, depth)
    return [Hit(doc_id=doc, chunk_id=best[doc][1], score=score, rank=rank)
            for rank, (doc, score) in enumerate(ranked, start=1)]
