"""The search service: FastAPI over a versioned index, with a search page at `/`.

No `from __future__ import annotations` here: FastAPI reads these annotations at run time.
"""

import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from importlib import resources
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Security
from fastapi.responses import HTMLResponse
from fastapi.security import APIKeyHeader

from hybridrag import __version__
from hybridrag.answers import answer
from hybridrag.config import FusionParams
from hybridrag.index.database import fetch_document_chunks
from hybridrag.search.filters import Filters, parse_year_range
from hybridrag.search.fts_query import query_terms
from hybridrag.search.hits import Hit
from hybridrag.search.hybrid import SearchResult
from hybridrag.search.snippets import highlighted_snippets
from hybridrag.service.schemas import (
    AskParams,
    AskResponse,
    AskSource,
    ChunkInfo,
    DocumentResponse,
    FusionUsed,
    IndexInfo,
    Message,
    RerankScore,
    RetrieverScore,
    SearchHit,
    SearchParams,
    SearchResponse,
    VersionResponse,
)
from hybridrag.service.state import ChatHolder, IndexHolder, ServedIndex, ServiceConfig

log = logging.getLogger("hybridrag.service")
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="Required when the service runs with HYBRIDRAG_API_KEY set.")
UNAUTHORIZED = {401: {"model": Message, "description": "Missing or wrong X-API-Key"}}
NOT_READY = {503: {"model": Message, "description": "No index loaded (yet)"}}


def index_info(served: ServedIndex) -> IndexInfo:
    manifest = served.searcher.manifest
    return IndexInfo(source=served.version.source, revision=served.version.revision,
                     requested=served.version.requested, data_hash=served.version.data_hash,
                     documents=manifest["documents"], chunks=manifest["chunks"],
                     embedding_model=served.searcher.embedding.model, loaded_at=served.loaded_at)


def retriever_score(hit: Hit | None) -> RetrieverScore | None:
    return None if hit is None else RetrieverScore(score=hit.score, rank=hit.rank, chunk_id=hit.chunk_id)


def rerank_score(result: SearchResult) -> RerankScore | None:
    if result.rerank_score is None or result.first_stage_score is None:
        return None
    return RerankScore(cross_encoder=result.rerank_score, first_stage_score=result.first_stage_score,
                       first_stage_rank=result.first_stage_rank or 0)


def require_reranker(served: ServedIndex) -> None:
    if not served.searcher.has_reranker:
        raise HTTPException(400, "rerank=true needs a trained reranker and this service has none "
                                 "(run `dvc repro train_reranker`, then restart or reload)")


def search_filters(params: SearchParams) -> Filters:
    year_min, year_max = parse_year_range(params.year) if params.year else (None, None)
    return Filters(author=params.author, year_min=year_min, year_max=year_max, topic=params.topic,
                   keywords=tuple(params.keyword))


def fusion_for(params: SearchParams, default: FusionParams) -> FusionParams:
    overrides = {name: getattr(params, name) for name in ("dense_weight", "normalization", "rrf_k")
                 if getattr(params, name) is not None}
    if params.fusion:
        overrides["method"] = params.fusion
    return replace(default, **overrides)


def authorized(request: Request,
               key: Annotated[str | None, Security(API_KEY_HEADER)] = None) -> None:
    expected = request.app.state.holder.config.api_key
    if expected and not (key and secrets.compare_digest(key.encode(), expected.encode())):
        raise HTTPException(401, "missing or wrong X-API-Key header",
                            headers={"WWW-Authenticate": "ApiKey"})


def served_index(request: Request) -> ServedIndex:
    holder: IndexHolder = request.app.state.holder
    current = holder.current  # read once: the whole request uses this index, even across a swap
    if current is None:
        raise HTTPException(503, holder.last_error or "the index is still loading")
    return current


Served = Annotated[ServedIndex, Depends(served_index)]


def create_app(config: ServiceConfig) -> FastAPI:
    holder = IndexHolder(config)
    chat = (ChatHolder(config.chat_model, config.chat_base, config.device)
            if config.chat_model is not None else None)

    def load_in_background() -> None:
        if chat is not None:  # first: once /ready answers, /ask has no cold start either
            try:
                chat.generator()
            except Exception:
                log.exception("could not load the chat model; /ask will retry")
        try:
            holder.load()
        except Exception as error:
            holder.last_error = f"index not loaded: {error}"
            log.exception("could not load the index")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=load_in_background, name="index-loader", daemon=True).start()
        holder.start_watching()
        yield
        holder.stop()

    app = FastAPI(title="hybridrag search", version=__version__, lifespan=lifespan,
                  description="Hybrid (SQLite FTS5 BM25 + FAISS dense) search over a "
                              "DVC-versioned index. Every result explains its score.")
    app.state.holder = holder
    # The key check (and its place in the OpenAPI schema) exists only when a key is set.
    protected = [Depends(authorized)] if config.api_key else []
    unauthorized = UNAUTHORIZED if config.api_key else {}

    @app.get("/health", summary="Liveness: the process answers")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness: an index is loaded", dependencies=protected,
             responses={**unauthorized, **NOT_READY})
    def ready(index: Served) -> IndexInfo:
        return index_info(index)

    @app.get("/version", summary="Package and index versions", dependencies=protected,
             responses=unauthorized)
    def version() -> VersionResponse:
        current = holder.current
        return VersionResponse(package_version=__version__,
                               index=index_info(current) if current else None,
                               last_reload_error=holder.last_error)

    @app.get("/hybrid_search", summary="Search: bm25, dense or hybrid, with metadata filters",
             dependencies=protected, responses={**unauthorized, **NOT_READY})
    def hybrid_search(params: Annotated[SearchParams, Query()], index: Served) -> SearchResponse:
        start = time.perf_counter()
        searcher = index.searcher
        if params.rerank:
            require_reranker(index)
        fusion = fusion_for(params, searcher.fusion)
        results = searcher.search(params.query, k=params.k, mode=params.mode,
                                  filters=search_filters(params), fusion=fusion,
                                  rerank=params.rerank)
        documents = searcher.documents([r.doc_id for r in results])
        with searcher.pool.connection() as connection:
            snippets = highlighted_snippets(connection, [r.chunk_id for r in results],
                                            query_terms(params.query, searcher.keyword.stopwords))
        hits = []
        for result in results:
            document = documents[result.doc_id]
            hits.append(SearchHit(
                rank=result.rank, doc_id=result.doc_id, chunk_id=result.chunk_id,
                title=document.title, author=document.author, year=document.year,
                topic=document.topic, keywords=list(document.keywords),
                snippet=snippets[result.chunk_id], score=result.score,
                bm25=retriever_score(result.bm25), dense=retriever_score(result.dense),
                rerank=rerank_score(result)))
        return SearchResponse(
            query=params.query, mode=params.mode, k=params.k,
            fusion=FusionUsed(**fusion.__dict__) if params.mode == "hybrid" else None,
            rerank_depth=max(params.k, searcher.rerank_depth) if params.rerank else None,
            took_ms=round(1000 * (time.perf_counter() - start), 3),
            index=index_info(index), results=hits)

    if chat is not None:
        @app.get("/ask", summary="A grounded answer: retrieve sources, generate, cite them",
                 dependencies=protected, responses={**unauthorized, **NOT_READY})
        def ask(params: Annotated[AskParams, Query()], index: Served) -> AskResponse:
            start = time.perf_counter()
            if params.rerank:
                require_reranker(index)
            try:
                generator = chat.generator()
            except Exception as error:
                raise HTTPException(503, f"the chat model could not be loaded: {error}") from error
            reply = answer(generator, index.searcher, [params.query], params.sources,
                           params.rerank, params.max_new_tokens)[0]
            return AskResponse(
                query=params.query, answer=reply.text, cited=reply.cited,
                sources=[AskSource(number=s.number, doc_id=s.doc_id, chunk_id=s.chunk_id,
                                   title=s.title, cited=s.number in reply.cited)
                         for s in reply.sources],
                chat_model=str(config.chat_model), reranked=params.rerank,
                took_ms=round(1000 * (time.perf_counter() - start), 3), index=index_info(index))

    @app.get("/documents/{doc_id:path}", summary="One document with its metadata and chunks",
             dependencies=protected,
             responses={**unauthorized, **NOT_READY, 404: {"model": Message}})
    def document(doc_id: str, index: Served) -> DocumentResponse:
        searcher = index.searcher
        found = searcher.documents([doc_id]).get(doc_id)
        if found is None:
            raise HTTPException(404, f"document {doc_id!r} not found in this index")
        with searcher.pool.connection() as connection:
            chunks = fetch_document_chunks(connection, doc_id)
        return DocumentResponse(
            doc_id=found.doc_id, title=found.title, text=found.text, author=found.author,
            year=found.year, topic=found.topic, keywords=list(found.keywords),
            chunks=[ChunkInfo(chunk_id=c.chunk_id, position=c.position, start=c.start, end=c.end)
                    for c in chunks],
            index=index_info(index))

    @app.post("/admin/reload", summary="Load the index again (optionally another revision)",
              dependencies=protected,
              responses={**unauthorized, 403: {"model": Message}, 404: {"model": Message}})
    def reload(revision: Annotated[str | None, Query(max_length=200)] = None) -> IndexInfo:
        if not config.api_key:
            raise HTTPException(403, "admin endpoints are enabled only when HYBRIDRAG_API_KEY is set")
        try:
            return index_info(holder.load(revision))
        except LookupError as error:
            raise HTTPException(404, str(error)) from error

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return resources.files("hybridrag.service").joinpath("static/index.html").read_text("utf-8")

    return app
