"""Request and response shapes of the search service (they make its OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hybridrag.errors import FilterError
from hybridrag.search.filters import Filters, parse_year_range
from hybridrag.search.results import SearchHit

MAX_QUERY_CHARS = 1000
MAX_K = 100
MAX_SOURCES = 10
MAX_NEW_TOKENS = 256
YEAR_PATTERN = r"^\s*(-?\d{1,4}|-?\d{1,4}\s*\.\.\s*(-?\d{1,4})?|\.\.\s*-?\d{1,4})\s*$"


class QueryText(BaseModel):
    """A free-text query. Unknown parameters are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    query: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS,
                                description="Free text. Quotes and FTS5 operators are plain words.")]

    @field_validator("query")
    @classmethod
    def query_has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query must contain some text, not only whitespace")
        return value.strip()


class SearchParams(QueryText):
    """Query parameters of /hybrid_search."""

    k: Annotated[int, Field(ge=1, le=MAX_K, description="Number of results.")] = 10
    mode: Literal["bm25", "dense", "hybrid"] = "hybrid"
    fusion: Literal["rrf", "weighted"] | None = Field(
        None, description="Fusion method for mode=hybrid (default: the service's params).")
    dense_weight: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None, description="weighted fusion: share of the dense score; BM25 gets 1 - dense_weight.")
    normalization: Literal["minmax", "zscore"] | None = None
    rrf_k: Annotated[float, Field(ge=0, le=10_000)] | None = None
    author: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        None, description="Case-insensitive substring of the author.")
    year: Annotated[str, Field(max_length=20, pattern=YEAR_PATTERN)] | None = Field(
        None, description="1999, 1990..2000, 1990.. or ..2000 (inclusive; start <= end)")
    topic: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        None, description="Exact topic, any case.")
    keyword: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=20, description="Repeatable; every keyword must match.")
    language: Annotated[str, Field(min_length=2, max_length=3, pattern=r"^[A-Za-z]+$")] | None = Field(
        None, description="ISO 639-1 language code (en, fr, ...), any case.")
    file_type: Literal["pdf", "html", "markdown", "docx", "text"] | None = Field(
        None, description="Documents read from files of this type.")
    rerank: bool = Field(False, description="Rescore the top candidates (the service's rerank "
                                            "depth, at least k) with the trained cross-encoder.")

    @field_validator("year", mode="before")
    @classmethod
    def year_is_a_range(cls, value: object) -> object:
        """Runs before the pattern check so that a bad year gets the friendly message."""
        if isinstance(value, str):
            try:
                low, high = parse_year_range(value)
                Filters(year_min=low, year_max=high)  # refuses an empty range
            except FilterError as error:
                raise ValueError(str(error)) from error
        return value


class FusionUsed(BaseModel):
    method: str
    rrf_k: float
    dense_weight: float
    normalization: str


class IndexInfo(BaseModel):
    source: str = Field(description="workspace or revision")
    revision: str | None = Field(description="git commit the index belongs to")
    requested: str | None = Field(description="the revision asked for, if any")
    data_hash: str = Field(description="DVC's md5 of the index folder, as in dvc.lock")
    store: str = Field(description="where it is read: sqlite (the folder) or postgres:<schema>")
    documents: int
    chunks: int
    embedding_model: str
    loaded_at: str


class SearchResponse(BaseModel):
    query: str
    mode: str
    k: int
    fusion: FusionUsed | None
    rerank_depth: int | None = Field(description="candidates reranked; null when not reranked")
    took_ms: float
    index: IndexInfo
    results: list[SearchHit]


class ChunkInfo(BaseModel):
    chunk_id: int
    position: int
    start: int
    end: int


class DocumentResponse(BaseModel):
    doc_id: str
    title: str
    text: str
    author: str | None
    year: int | None
    topic: str | None
    keywords: list[str]
    chunks: list[ChunkInfo]
    index: IndexInfo


class VersionResponse(BaseModel):
    package_version: str
    index: IndexInfo | None
    last_reload_error: str | None


class Message(BaseModel):
    detail: str


class AskParams(QueryText):
    """Query parameters of /ask."""

    sources: Annotated[int, Field(ge=1, le=MAX_SOURCES)] | None = Field(
        None, description="Retrieved sources in the prompt (default: answers.sources).")
    rerank: bool | None = Field(None, description="Rerank the sources with the cross-encoder "
                                                  "(default: answers.rerank).")
    max_new_tokens: Annotated[int, Field(ge=1, le=MAX_NEW_TOKENS)] | None = Field(
        None, description="Longest reply in tokens (default: answers.max_new_tokens).")


class AskSource(BaseModel):
    number: int = Field(description="as cited in the answer: [number]")
    doc_id: str
    chunk_id: int
    title: str
    source_path: str | None = Field(description="the file it comes from (files corpus)")
    page: int | None = Field(description="the passage's page (PDF), from 1")
    section: str | None = Field(description="the passage's section: its heading path (Markdown)")
    text: str = Field(description="the passage the model read")
    cited: bool


class AskResponse(BaseModel):
    query: str
    answer: str
    cited: list[int] = Field(description="source numbers the answer cites, in order")
    stopped: bool = Field(description="the model ended its reply (false: cut at max_new_tokens)")
    gated: str | None = Field(None, description="why the answerability gate abstained without "
                                                "asking the model (null: the model answered)")
    extracted: bool = Field(False, description="the model abstained on a question the gate let "
                                               "through: the answer is the reranker's best "
                                               "sentence of the sources (answers.on_model_abstention)")
    sources: list[AskSource]
    chat_model: str
    runtime: str = Field(description="what generated it: transformers fp32, or onnx int8 (fp32, int4)")
    reranked: bool
    took_ms: float
    index: IndexInfo


class AskPiece(BaseModel):
    """An `event: token` of /ask/stream: the text the model has just added to the answer."""

    text: str
