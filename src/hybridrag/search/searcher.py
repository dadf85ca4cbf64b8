"""One object over a built index: keyword, dense and hybrid search, reranking, and the lookups
a caller needs to show results (documents, chunks, passages, highlighted snippets), read
through the index's store (its folder, or PostgreSQL: hybridrag.backends)."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np

from hybridrag.config import FusionParams, RetrievalParams
from hybridrag.device import pick_device
from hybridrag.embedding import QueryEncoder, load_encoder, passage_text, resolve_model_path
from hybridrag.index import embedding_info, read_manifest
from hybridrag.onnx_encoder import OnnxTextEncoder
from hybridrag.records import Chunk, Document
from hybridrag.search.filters import Filters
from hybridrag.search.fts_query import query_terms, stopwords_for
from hybridrag.search.hits import Hit
from hybridrag.search.hybrid import MODES, Mode, SearchResult, combine
from hybridrag.search.rerank import Reranker
from hybridrag.search.store import IndexStore, SqliteStore


class Searcher:
    """Searches an index built by `build_db`, read from its folder or from the PostgreSQL
    schema it was published to (`store`); the query encoder is the one that built it."""

    def __init__(self, index_dir: str | os.PathLike[str], retrieval: RetrievalParams,
                 fusion: FusionParams, device: str = "auto",
                 connections: int = 1, query_encoder: QueryEncoder | None = None,
                 encoder_backend: Literal["torch", "onnx"] = "torch",
                 reranker: str | os.PathLike[str] | Reranker | None = None, rerank_depth: int = 10,
                 store: IndexStore | None = None):
        """`connections`: SQLite connections for concurrent callers (one per thread in use).
        `store`: where the index is read (default: its folder; see hybridrag.search.stores).

        `query_encoder` reuses an already loaded query encoder (it must be the index's model);
        otherwise one is loaded on first use, run by `encoder_backend`. `reranker` (a folder
        from train_reranker, or a loaded Reranker) enables search(rerank=True), which
        rescores the top `rerank_depth` results.
        """
        self.index_dir = Path(index_dir)
        self.retrieval = retrieval
        self.fusion = fusion
        self.manifest = read_manifest(self.index_dir)
        self.embedding = embedding_info(self.manifest, self.retrieval.embedding, self.index_dir)
        self.stopwords = stopwords_for(self.retrieval.stopwords, self.manifest.get("main_language"))
        self.store = store if store is not None else SqliteStore(
            self.index_dir, self.retrieval, self.stopwords, connections)
        self.keyword = self.store.keyword
        self.dense = self.store.dense
        self.device = device
        self.encoder_backend = encoder_backend
        self._reranker = reranker
        self.rerank_depth = rerank_depth
        if query_encoder is not None:
            self.query_encoder = query_encoder

    @cached_property
    def query_encoder(self) -> QueryEncoder:
        """The query encoder, loaded on first dense search (BM25-only use never pays for it)."""
        # Queries of an index embedded with int8 weights need the same int8 model; others
        # take it on CPU when retrieval.query_precision asks (the vectors differ slightly).
        int8 = self.embedding.backend == "onnx_int8" or (
            self.retrieval.query_precision == "int8" and pick_device(self.device) == "cpu")
        backend = "onnx_int8" if int8 else self.encoder_backend
        if backend == "torch":
            return QueryEncoder(load_encoder(self.embedding.model, self.device,
                                             self.embedding.max_seq_length))
        # ONNX on CPU: the kept export opens without torch (a cold `hybridrag ask`)
        return QueryEncoder(OnnxTextEncoder.load(resolve_model_path(self.embedding.model),
                                                 self.embedding.max_seq_length, threads=1,
                                                 quantize=backend == "onnx_int8"), backend)

    @property
    def has_reranker(self) -> bool:
        return self._reranker is not None

    @cached_property
    def reranker(self) -> Reranker:
        if self._reranker is None:
            raise ValueError("this searcher has no reranker (pass reranker=models/reranker)")
        if isinstance(self._reranker, Reranker):
            return self._reranker
        return Reranker.load(self._reranker, self.device)

    def encode_queries(self, queries: list[str], batch_size: int = 256,
                       progress: bool = False) -> np.ndarray:
        """Unit vectors for many queries at once, encoded in the calling thread (int8: one at
        a time, so that each gets the vector it gets when served; see QueryEncoder)."""
        encoder = self.query_encoder
        return encoder.encode_many(queries, 1 if encoder.backend == "onnx_int8" else batch_size,
                                   progress)

    def retrieve(self, query: str, depth: int | None = None, filters: Filters | None = None,
                 modes: tuple[str, ...] = ("bm25", "dense")) -> tuple[list[Hit], list[Hit]]:
        """Each retriever's top-`depth` document hits for one query (skipping unneeded ones).

        The query is encoded on the encoder's thread while BM25 runs in this one.
        """
        depth = depth or self.retrieval.depth
        vector = self.query_encoder.submit(query) if "dense" in modes else None
        bm25 = self.keyword.search(query, depth, filters) if "bm25" in modes else []
        dense = (self.dense.search(vector.result()[None, :], depth, filters)[0]
                 if vector is not None else [])
        return bm25, dense

    def search(self, query: str, k: int = 10, mode: Mode = "hybrid",
               filters: Filters | None = None, fusion: FusionParams | None = None,
               rerank: bool = False) -> list[SearchResult]:
        """The top-k documents for `query`; hybrid fuses each retriever's top `depth`; with
        `rerank`, the cross-encoder rescores the top `rerank_depth` (at least k) first."""
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        needed = ("bm25", "dense") if mode == "hybrid" else (mode,)
        bm25, dense = self.retrieve(query, max(k, self.retrieval.depth), filters, needed)
        if not rerank:
            return combine(bm25, dense, mode, fusion or self.fusion, k)
        candidates = combine(bm25, dense, mode, fusion or self.fusion, max(k, self.rerank_depth))
        return self.reranker.rerank(query, candidates, self.passages(candidates))[:k]

    def documents(self, doc_ids: list[str]) -> dict[str, Document]:
        return self.store.documents(doc_ids)

    def chunks(self, chunk_ids: list[int]) -> dict[int, Chunk]:
        return self.store.chunks(chunk_ids)

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        """A document's chunks in order."""
        return self.store.document_chunks(doc_id)

    def passages(self, results: list[SearchResult]) -> list[str]:
        """What the reranker reads for each result: its best chunk, titled as it was embedded."""
        documents = self.documents([r.doc_id for r in results])
        chunks = self.chunks([r.chunk_id for r in results])
        return [passage_text(documents[r.doc_id].title, chunks[r.chunk_id],
                             self.embedding.include_title) for r in results]

    def snippets(self, query: str, chunk_ids: list[int], words: int = 40) -> dict[int, str]:
        """HTML-escaped snippets of the chunks with the query's words in <mark>, per chunk id."""
        return self.store.snippets(query_terms(query, self.stopwords), chunk_ids, words)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
