"""The one public shape of a search result, shared by `hybridrag search --json` and the API."""

from __future__ import annotations

from pydantic import BaseModel, Field

from hybridrag.search.hits import Hit
from hybridrag.search.hybrid import SearchResult
from hybridrag.search.searcher import Searcher


class RetrieverScore(BaseModel):
    score: float
    rank: int = Field(description="1-based rank in this retriever's list")
    chunk_id: int = Field(description="the document's best chunk for this retriever")


class RerankScore(BaseModel):
    cross_encoder: float = Field(description="the cross-encoder's own score")
    first_stage_score: float = Field(description="the score before reranking")
    first_stage_rank: int = Field(description="the rank before reranking")


class SearchHit(BaseModel):
    rank: int
    doc_id: str
    chunk_id: int
    title: str
    author: str | None
    year: int | None
    topic: str | None
    keywords: list[str]
    language: str | None
    file_type: str | None = Field(description="pdf, html, markdown, docx or text (files corpus)")
    source_path: str | None = Field(description="the file, relative to the ingested folder")
    page: int | None = Field(description="the best chunk's page (PDF), from 1")
    section: str | None = Field(description="the best chunk's section: its heading path "
                                "(\"Install › Linux\"), for documents with headings (Markdown)")
    snippet: str = Field(description="HTML-escaped text; query words wrapped in <mark>")
    score: float = Field(description="the fused score (or the single retriever's score)")
    bm25: RetrieverScore | None
    dense: RetrieverScore | None
    rerank: RerankScore | None = Field(None, description="present when the results were reranked")


def retriever_score(hit: Hit | None) -> RetrieverScore | None:
    return None if hit is None else RetrieverScore(score=hit.score, rank=hit.rank, chunk_id=hit.chunk_id)


def rerank_score(result: SearchResult) -> RerankScore | None:
    if result.rerank_score is None or result.first_stage_score is None:
        return None
    return RerankScore(cross_encoder=result.rerank_score, first_stage_score=result.first_stage_score,
                       first_stage_rank=result.first_stage_rank or 0)


def search_hits(searcher: Searcher, query: str, results: list[SearchResult]) -> list[SearchHit]:
    """Results with their documents' metadata, highlighted snippets and score breakdown."""
    documents = searcher.documents([r.doc_id for r in results])
    chunks = searcher.chunks([r.chunk_id for r in results])
    snippets = searcher.snippets(query, [r.chunk_id for r in results])
    hits = []
    for result in results:
        document = documents[result.doc_id]
        hits.append(SearchHit(
            rank=result.rank, doc_id=result.doc_id, chunk_id=result.chunk_id, title=document.title,
            author=document.author, year=document.year, topic=document.topic,
            keywords=list(document.keywords), language=document.language,
            file_type=document.file_type, source_path=document.source_path,
            page=chunks[result.chunk_id].page, section=chunks[result.chunk_id].section,
            snippet=snippets[result.chunk_id], score=result.score,
            bm25=retriever_score(result.bm25), dense=retriever_score(result.dense),
            rerank=rerank_score(result)))
    return hits
