"""Torch fp32, ONNX fp32 and ONNX int8 bulk embedding compared on one corpus: encoding speed,
how far the vectors move from torch's, and the retrieval quality of an index built from each."""

from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hybridrag.chunking import chunk_documents
from hybridrag.config import Params
from hybridrag.embedding import EncoderBackend, batch_encoder, passage_text
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
# ONNX fp32 gives torch's vectors to 1e-5 (tests/test_embedding.py): timed, not indexed again.
INDEXED: tuple[EncoderBackend, ...] = ("torch", "onnx_int8")
MODES = ("dense", "hybrid")


def encoding_speed(encoder: SentenceTransformer, texts: list[str], batch_size: int,
                   backends: tuple[EncoderBackend, ...], rounds: int) -> dict[str, float]:
    """Texts per second of each backend: its best of `rounds` passes over `texts`, the backends
    taking turns within each round, so a passing load on the machine touches all of them."""
    runners = {backend: batch_encoder(encoder, backend) for backend in backends}
    best = dict.fromkeys(backends, math.inf)
    for _ in range(rounds):
        for backend, run in runners.items():
            start = time.perf_counter()
            run(texts, batch_size, False)
            best[backend] = min(best[backend], time.perf_counter() - start)
    return {backend: len(texts) / seconds for backend, seconds in best.items()}


def compare_backends(dataset: Dataset, split: str, params: Params, work: str | os.PathLike[str],
                     encoder: SentenceTransformer, backends: tuple[EncoderBackend, ...] = BACKENDS,
                     indexed: tuple[EncoderBackend, ...] = INDEXED, speed_sample: int = 1024,
                     rounds: int = 3, seed: int = 0, progress: bool = False
                     ) -> list[dict[str, Any]]:
    """One row per backend (the first is the reference): chunks/s on a seeded sample of the
    chunks (encoding_speed); and for the `indexed` ones the time of one full embed, cosine to
    the reference's vectors, and nDCG@10 of dense and hybrid retrieval on `split`'s queries,
    each index built with params.yaml's other settings and searched with the vectors' own
    query encoder."""
    chunks = list(chunk_documents(dataset.documents, params.chunk.size, params.chunk.overlap))
    titles = {d.doc_id: d.title for d in dataset.documents}
    texts = [passage_text(titles[c.doc_id], c, params.embed.include_title) for c in chunks]
    sample = random.Random(seed).sample(texts, min(speed_sample, len(texts)))
    speed = encoding_speed(encoder, sample, params.embed.batch_size, backends, rounds)
    qrels = dataset.qrels[split]
    queries = select_queries(dataset.queries, qrels, params.eval_retrieval.max_queries,
                             params.eval_retrieval.seed)
    retrieval = params.retrieval.updated(embedding="base")
    rows: list[dict[str, Any]] = []
    reference: np.ndarray | None = None
    for backend in backends:
        if backend not in indexed:
            rows.append({"backend": backend, "chunks": len(chunks), "speed_sample": len(sample),
                         "chunks_per_second": round(speed[backend], 1)})
            continue
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
        rows.append({"backend": backend, "chunks": len(chunks), "speed_sample": len(sample),
                     "chunks_per_second": round(speed[backend], 1),
                     "full_embed_seconds": round(seconds, 1),
                     "mean_cosine_to_reference": round(float(cosines.mean()), 5),
                     "min_cosine_to_reference": round(float(cosines.min()), 5),
                     **{f"{mode}_ndcg@{CUTOFF}": round(means[mode][f"ndcg@{CUTOFF}"], 4)
                        for mode in MODES}})
    for row in rows:
        row["speed_vs_reference"] = round(row["chunks_per_second"] / rows[0]["chunks_per_second"], 3)
    return rows
