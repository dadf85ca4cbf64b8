"""Torch fp32, ONNX fp32 and ONNX int8 bulk embedding compared on one corpus: encoding speed,
how far the vectors move from torch's, and the retrieval quality of an index built from each."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hybridrag.chunking import chunk_documents
from hybridrag.config import Params
from hybridrag.embedding import EncoderBackend
from hybridrag.evaluation.retrieval import (
    CUTOFF,
    evaluate_modes,
    evaluation_depth,
    retrieve_candidates,
    select_queries,
)
from hybridrag.index import build_index
from hybridrag.pipeline import embed_chunks
from hybridrag.records import Dataset
from hybridrag.search.searcher import Searcher

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

BACKENDS: tuple[EncoderBackend, ...] = ("torch", "onnx", "onnx_int8")
MODES = ("dense", "hybrid")


def compare_backends(dataset: Dataset, split: str, params: Params, work: str | os.PathLike[str],
                     encoder: SentenceTransformer, backends: tuple[EncoderBackend, ...] = BACKENDS,
                     progress: bool = False) -> list[dict[str, Any]]:
    """One row per backend (the first is the reference): chunks/s, cosine to the reference's
    vectors, and nDCG@10 of dense and hybrid retrieval on `split`'s queries, each index built
    with params.yaml's other settings and searched with the vectors' own query encoder."""
    chunks = list(chunk_documents(dataset.documents, params.chunk.size, params.chunk.overlap))
    qrels = dataset.qrels[split]
    queries = select_queries(dataset.queries, qrels, params.eval_retrieval.max_queries,
                             params.eval_retrieval.seed)
    retrieval = params.retrieval.updated(embedding="base")
    rows: list[dict[str, Any]] = []
    reference: np.ndarray | None = None
    for backend in backends:
        start = time.perf_counter()
        embeddings = embed_chunks(dataset.documents, chunks, params.embed.updated(backend=backend),
                                  encoder, progress)
        seconds = time.perf_counter() - start
        reference = embeddings.vectors if reference is None else reference
        cosines = (embeddings.vectors * reference).sum(axis=1)
        folder = Path(work) / backend
        build_index(folder, dataset.documents, chunks, {"base": embeddings}, params.build_db)
        with Searcher(folder, retrieval, params.fusion) as searcher:
            candidates = retrieve_candidates(searcher, queries, evaluation_depth(params),
                                             params.eval_retrieval.batch_size, progress)
            means, _, _ = evaluate_modes(candidates, qrels, params.fusion, (CUTOFF,))
        rows.append({"backend": backend, "chunks": len(chunks), "seconds": round(seconds, 1),
                     "chunks_per_second": round(len(chunks) / seconds, 1),
                     "mean_cosine_to_reference": round(float(cosines.mean()), 5),
                     "min_cosine_to_reference": round(float(cosines.min()), 5),
                     **{f"{mode}_ndcg@{CUTOFF}": round(means[mode][f"ndcg@{CUTOFF}"], 4)
                        for mode in MODES}})
    for row in rows:
        row["speed_vs_reference"] = round(row["chunks_per_second"] / rows[0]["chunks_per_second"], 3)
    return rows
