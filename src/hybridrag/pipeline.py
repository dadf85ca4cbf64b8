"""The chunk -> embed -> build_db steps as library calls, for scripts and tests that skip DVC."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hybridrag.chunking import chunk_documents
from hybridrag.config import BuildDbParams, ChunkParams, EmbedParams
from hybridrag.embedding import batch_encoder, load_encoder, passage_text, resolve_model_path
from hybridrag.embedding_cache import cache_keys, cached_rows, model_fingerprint
from hybridrag.embedding_store import EmbeddingInfo, EmbeddingSet
from hybridrag.index import build_index
from hybridrag.records import Chunk, Document

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def embed_chunks(documents: Sequence[Document], chunks: Sequence[Chunk], params: EmbedParams,
                 encoder: SentenceTransformer | None = None, progress: bool = False
                 ) -> EmbeddingSet:
    """Vectors of `chunks` (titles taken from `documents`) and how they were made."""
    return embed_chunks_reusing(documents, chunks, params, None, encoder, progress)[0]


def embed_chunks_reusing(documents: Sequence[Document], chunks: Sequence[Chunk],
                         params: EmbedParams, previous: EmbeddingSet | None,
                         encoder: SentenceTransformer | None = None, progress: bool = False
                         ) -> tuple[EmbeddingSet, int]:
    """Like embed_chunks, but vectors whose cache key `previous` holds are copied from it
    instead of encoded again. Returns the set and how many chunks were encoded."""
    encoder = encoder or load_encoder(params.model, params.device, params.max_seq_length)
    titles = {d.doc_id: d.title for d in documents}
    texts = [passage_text(titles[c.doc_id], c, params.include_title) for c in chunks]
    keys = cache_keys(texts, model_fingerprint(resolve_model_path(params.model)),
                      int(encoder.max_seq_length), params.backend)
    reused = cached_rows(previous, keys)
    missing = [i for i in range(len(texts)) if i not in reused]
    dimension = int(encoder.get_embedding_dimension())
    vectors = np.empty((len(texts), dimension), dtype=np.float32)
    if missing:
        run = batch_encoder(encoder, params.backend)
        vectors[missing] = run([texts[i] for i in missing], params.batch_size, progress)
    if reused and previous is not None:
        vectors[list(reused)] = previous.vectors[list(reused.values())]
    info = EmbeddingInfo(model=params.model, dimension=dimension,
                         include_title=params.include_title,
                         max_seq_length=int(encoder.max_seq_length), backend=params.backend)
    chunk_ids = np.array([c.chunk_id for c in chunks], dtype=np.int64)
    return EmbeddingSet(vectors, chunk_ids, info, keys), len(missing)


def index_documents(folder: str | os.PathLike[str], documents: Sequence[Document],
                    chunk: ChunkParams, embed: EmbedParams, build: BuildDbParams,
                    encoder: SentenceTransformer | None = None, progress: bool = False,
                    name: str = "base") -> dict[str, Any]:
    """Chunk, embed (as the embedding set `name`) and index `documents` into `folder`; returns
    the manifest."""
    chunks = list(chunk_documents(documents, chunk.size, chunk.overlap))
    embeddings = embed_chunks(documents, chunks, embed, encoder, progress)
    return build_index(folder, documents, chunks, {name: embeddings}, build)
