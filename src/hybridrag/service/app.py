"""The search service: FastAPI over a versioned index, with a search page at `/`.

Routes are module-level functions over one `Service` object (app.state.service); `create_app`
only wires them. No `from __future__ import annotations`: FastAPI reads the annotations at run time.
"""

import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Security
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from fastapi.security import APIKeyHeader
from fastapi.sse import format_sse_event

from hybridrag import __version__
from hybridrag.answers.ask import Answer, answer, answer_stream
from hybridrag.chat.generation import ChatGenerator
from hybridrag.config import AnswersParams, FusionParams
from hybridrag.search.filters import Filters, parse_year_range
from hybridrag.search.results import search_hits
from hybridrag.service.schemas import (
    AskParams,
    AskPiece,
    AskResponse,
    AskSource,
    ChunkInfo,
    DocumentResponse,
    FusionUsed,
    IndexInfo,
    Message,
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


@dataclass
class Service:
    """What the routes share: the settings, the served index and the chat model."""

    config: ServiceConfig
    holder: IndexHolder
    chat: ChatHolder | None

    def load_in_background(self) -> None:
        if self.chat is not None:  # first: once /ready answers, /ask has no cold start either
            try:
                self.chat.generator()
            except Exception:
                log.exception("could not load the chat model; /ask will retry")
        try:
            self.holder.load()
        except Exception as error:
            self.holder.last_error = f"index not loaded: {error}"
            log.exception("could not load the index")


# The dependencies are `async def`: they do no I/O, and FastAPI runs a plain `def` dependency
# on its thread pool, a hand-off per dependency per request (bench/service_profile.py).
async def service(request: Request) -> Service:
    return request.app.state.service


async def authorized(request: Request,
                     key: Annotated[str | None, Security(API_KEY_HEADER)] = None) -> None:
    expected = request.app.state.service.config.api_key
    if expected and not (key and secrets.compare_digest(key.encode(), expected.encode())):
        raise HTTPException(401, "missing or wrong X-API-Key header",
                            headers={"WWW-Authenticate": "ApiKey"})


async def served_index(request: Request) -> ServedIndex:
    holder = request.app.state.service.holder
    current = holder.current  # read once: the whole request uses this index, even across a swap
    if current is None:
        raise HTTPException(503, holder.last_error or "the index is still loading")
    return current


Served = Annotated[ServedIndex, Depends(served_index)]
State = Annotated[Service, Depends(service)]


def index_info(served: ServedIndex) -> IndexInfo:
    manifest = served.searcher.manifest
    return IndexInfo(source=served.version.source, revision=served.version.revision,
                     requested=served.version.requested, data_hash=served.version.data_hash,
                     store=served.searcher.store.name,
                     documents=manifest["documents"], chunks=manifest["chunks"],
                     embedding_model=served.searcher.embedding.model, loaded_at=served.loaded_at)


def require_reranker(served: ServedIndex) -> None:
    if not served.searcher.has_reranker:
        raise HTTPException(400, "rerank=true needs a trained reranker and this service has none "
                                 "(run `dvc repro train_reranker`, then restart or reload)")


def search_filters(params: SearchParams) -> Filters:
    year_min, year_max = parse_year_range(params.year) if params.year else (None, None)
    return Filters(author=params.author, year_min=year_min, year_max=year_max, topic=params.topic,
                   keywords=tuple(params.keyword), language=params.language,
                   file_type=params.file_type)


def fusion_for(params: SearchParams, default: FusionParams) -> FusionParams:
    overrides = {name: getattr(params, name) for name in ("dense_weight", "normalization", "rrf_k")
                 if getattr(params, name) is not None}
    if params.fusion:
        overrides["method"] = params.fusion
    return default.updated(**overrides)


public = APIRouter()
routes = APIRouter()  # behind the API key when one is set
ask_routes = APIRouter()  # only when a chat model is configured


@public.get("/health", summary="Liveness: the process answers")
def health() -> dict[str, str]:
    return {"status": "ok"}


@public.get("/", response_class=HTMLResponse, include_in_schema=False)
def page() -> str:
    return resources.files("hybridrag.service").joinpath("static/index.html").read_text("utf-8")


@routes.get("/ready", summary="Readiness: an index is loaded", responses=NOT_READY)
def ready(index: Served) -> IndexInfo:
    return index_info(index)


@routes.get("/version", summary="Package and index versions")
def version(state: State) -> VersionResponse:
    current = state.holder.current
    return VersionResponse(package_version=__version__, index=index_info(current) if current else None,
                           last_reload_error=state.holder.last_error)


@routes.get("/hybrid_search", summary="Search: bm25, dense or hybrid, with metadata filters",
            response_model=SearchResponse, responses=NOT_READY)
def hybrid_search(params: Annotated[SearchParams, Query()], index: Served) -> Response:
    # The response is serialised once, here: returned as a model, FastAPI would validate it
    # again and convert it twice more, on another thread hand-off (a docstring would show in
    # the API docs).
    start = time.perf_counter()
    searcher = index.searcher
    if params.rerank:
        require_reranker(index)
    fusion = fusion_for(params, searcher.fusion)
    results = searcher.search(params.query, k=params.k, mode=params.mode,
                              filters=search_filters(params), fusion=fusion, rerank=params.rerank)
    hits = search_hits(searcher, params.query, results)
    return Response(SearchResponse(
        query=params.query, mode=params.mode, k=params.k,
        fusion=FusionUsed(**fusion.model_dump()) if params.mode == "hybrid" else None,
        rerank_depth=max(params.k, searcher.rerank_depth) if params.rerank else None,
        took_ms=round(1000 * (time.perf_counter() - start), 3), index=index_info(index),
        results=hits).model_dump_json(), media_type="application/json")


def chat_generator(state: "Service") -> ChatGenerator:
    assert state.chat is not None  # the /ask routes exist only with a chat model
    try:
        return state.chat.generator()
    except Exception as error:
        raise HTTPException(503, f"the chat model could not be loaded: {error}") from error


def ask_rerank(params: AskParams, index: ServedIndex, settings: AnswersParams) -> bool:
    rerank = settings.rerank if params.rerank is None else params.rerank
    if rerank:
        require_reranker(index)
    return rerank


def ask_response(reply: Answer, index: ServedIndex, state: "Service", generator: ChatGenerator,
                 rerank: bool, start: float) -> AskResponse:
    return AskResponse(
        query=reply.question, answer=reply.text, cited=reply.cited, stopped=reply.stopped,
        gated=reply.gated, extracted=reply.extracted,
        sources=[AskSource(number=s.number, doc_id=s.doc_id, chunk_id=s.chunk_id, title=s.title,
                           source_path=s.source_path, page=s.page, section=s.section,
                           text=s.text,
                           cited=s.number in reply.cited) for s in reply.sources],
        chat_model=str(state.config.chat_model),
        runtime=f"{generator.runtime} {generator.precision}", reranked=rerank,
        took_ms=round(1000 * (time.perf_counter() - start), 3), index=index_info(index))


@ask_routes.get("/ask", summary="A grounded answer: retrieve sources, generate, cite them",
                responses=NOT_READY)
def ask(params: Annotated[AskParams, Query()], index: Served, state: State) -> AskResponse:
    start = time.perf_counter()
    settings = state.config.answers
    rerank = ask_rerank(params, index, settings)
    generator = chat_generator(state)
    reply = answer(generator, index.searcher, [params.query], settings, params.sources, rerank,
                   params.max_new_tokens, index.gate)[0]
    return ask_response(reply, index, state, generator, rerank, start)


STREAM_RESPONSES = {200: {"description": "Server-sent events: `token` events (AskPiece) as the "
                                         "model writes, then one `answer` event (AskResponse)",
                          "content": {"text/event-stream": {}}}, **NOT_READY}


@ask_routes.get("/ask/stream", summary="/ask, its answer streamed as server-sent events",
                response_model=None, responses=STREAM_RESPONSES)
def ask_stream(params: Annotated[AskParams, Query()], index: Served, state: State
               ) -> StreamingResponse:
    """The same answer as /ask: `event: token` for each piece of text as it is generated, then
    `event: answer` with the whole response (citations and sources)."""
    start = time.perf_counter()
    settings = state.config.answers
    rerank = ask_rerank(params, index, settings)
    generator = chat_generator(state)
    streamed = answer_stream(generator, index.searcher, params.query, settings, params.sources,
                             rerank, params.max_new_tokens, index.gate)

    def events() -> Iterator[bytes]:
        for piece in streamed.stream:
            yield format_sse_event(event="token", data_str=AskPiece(text=piece).model_dump_json())
        response = ask_response(streamed.answer(), index, state, generator, rerank, start)
        yield format_sse_event(event="answer", data_str=response.model_dump_json())

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


@routes.get("/documents/{doc_id:path}", summary="One document with its metadata and chunks",
            responses={**NOT_READY, 404: {"model": Message}})
def document(doc_id: str, index: Served) -> DocumentResponse:
    searcher = index.searcher
    found = searcher.documents([doc_id]).get(doc_id)
    if found is None:
        raise HTTPException(404, f"document {doc_id!r} not found in this index")
    return DocumentResponse(
        doc_id=found.doc_id, title=found.title, text=found.text, author=found.author,
        year=found.year, topic=found.topic, keywords=list(found.keywords),
        chunks=[ChunkInfo(chunk_id=c.chunk_id, position=c.position, start=c.start, end=c.end)
                for c in searcher.document_chunks(doc_id)],
        index=index_info(index))


@routes.post("/admin/reload", summary="Load the index again (optionally another revision)",
             responses={403: {"model": Message}, 404: {"model": Message}})
def reload(state: State, revision: Annotated[str | None, Query(max_length=200)] = None) -> IndexInfo:
    if not state.config.api_key:
        raise HTTPException(403, "admin endpoints are enabled only when HYBRIDRAG_API_KEY is set")
    try:
        return index_info(state.holder.load(revision))
    except LookupError as error:
        raise HTTPException(404, str(error)) from error


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: Service = app.state.service
    threading.Thread(target=state.load_in_background, name="index-loader", daemon=True).start()
    state.holder.start_watching()
    yield
    state.holder.stop()


def create_app(config: ServiceConfig) -> FastAPI:
    chat = ChatHolder(config) if config.chat_model is not None else None
    app = FastAPI(title="hybridrag search", version=__version__, lifespan=lifespan,
                  description="Hybrid (SQLite FTS5 BM25 + FAISS dense) search over a "
                              "DVC-versioned index. Every result explains its score.")
    app.state.service = Service(config, IndexHolder(config), chat)
    # The key check (and its place in the OpenAPI schema) exists only when a key is set.
    protected = {"dependencies": [Depends(authorized)], "responses": UNAUTHORIZED} if config.api_key else {}
    app.include_router(public)
    app.include_router(routes, **protected)
    if chat is not None:
        app.include_router(ask_routes, **protected)
    return app
