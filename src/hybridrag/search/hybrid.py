"""Fusing the BM25 and dense document hits of one query into a ranked, explainable list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hybridrag.config import FusionParams
from hybridrag.fusion import minmax, reciprocal_rank_fusion, weighted_sum, zscore
from hybridrag.ranking import rank_scores
from hybridrag.search.hits import Hit

Mode = Literal["bm25", "dense", "hybrid"]
MODES: tuple[Mode, ...] = ("bm25", "dense", "hybrid")


@dataclass(frozen=True)
class SearchResult:
    """A ranked document with the evidence behind its place: each retriever's hit, if any."""

    rank: int
    doc_id: str
    chunk_id: int  # the best chunk of the retriever that ranked the document higher
    score: float  # the fused score (or the single retriever's score, or the reranked score)
    bm25: Hit | None
    dense: Hit | None
    rerank_score: float | None = None  # the cross-encoder's own score, when reranked
    first_stage_score: float | None = None  # the score and rank before reranking
    first_stage_rank: int | None = None


def fused_scores(bm25: list[Hit], dense: list[Hit], params: FusionParams) -> dict[str, float]:
    if params.method == "rrf":
        return reciprocal_rank_fusion([[h.doc_id for h in bm25], [h.doc_id for h in dense]],
                                      k=params.rrf_k)
    normalize = minmax if params.normalization == "minmax" else zscore
    return weighted_sum(
        [normalize({h.doc_id: h.score for h in bm25}), normalize({h.doc_id: h.score for h in dense})],
        [1.0 - params.dense_weight, params.dense_weight])


def mode_scores(bm25: list[Hit], dense: list[Hit], mode: Mode, params: FusionParams
                ) -> dict[str, float]:
    """Document scores of `mode`: one retriever's own, or the fusion of both."""
    if mode == "hybrid":
        return fused_scores(bm25, dense, params)
    if mode == "bm25":
        return {h.doc_id: h.score for h in bm25}
    if mode == "dense":
        return {h.doc_id: h.score for h in dense}
    raise ValueError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")


def combine(bm25: list[Hit], dense: list[Hit], mode: Mode, params: FusionParams, k: int
            ) -> list[SearchResult]:
    """The top-k results of `mode`, each carrying the BM25 and dense hits of its document."""
    ranked = rank_scores(mode_scores(bm25, dense, mode, params), k)
    bm25_by_doc = {h.doc_id: h for h in bm25}
    dense_by_doc = {h.doc_id: h for h in dense}
    results = []
    for rank, (doc_id, score) in enumerate(ranked, start=1):
        keyword_hit, dense_hit = bm25_by_doc.get(doc_id), dense_by_doc.get(doc_id)
        hits = [h for h in (keyword_hit, dense_hit) if h is not None]
        best = min(hits, key=lambda h: h.rank)  # min() keeps the BM25 hit on equal ranks
        results.append(SearchResult(rank=rank, doc_id=doc_id, chunk_id=best.chunk_id,
                                    score=score, bm25=keyword_hit, dense=dense_hit))
    return results
