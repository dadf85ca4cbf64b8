"""The scale benchmark's parts: a seeded synthetic corpus of real texts and noisy unit vectors,
recall@k by hand, and latency measured over every call."""

import numpy as np
import pytest

from hybridrag.records import Chunk, Document
from support.scale import measure_latency, recall_at_k, synthetic_corpus

DOCUMENTS = [Document("a", "Alpha", "one two"), Document("b", "Beta", "three")]
CHUNKS = [Chunk(7, "a", 0, 0, 7, "one two"), Chunk(9, "b", 0, 0, 5, "three")]
VECTORS = np.eye(2, 4, dtype=np.float32)  # rows in chunk id order 9, 7 (see CHUNK_IDS)
CHUNK_IDS = np.array([9, 7])


def test_synthetic_corpus_keeps_texts_titles_and_near_vectors():
    corpus = synthetic_corpus(DOCUMENTS, CHUNKS, VECTORS, CHUNK_IDS, 50, 0.01, seed=3)
    assert [c.chunk_id for c in corpus.chunks] == list(range(50))
    assert [d.doc_id for d in corpus.documents] == [f"s{i}" for i in range(50)]
    for document, chunk, vector in zip(corpus.documents, corpus.chunks, corpus.vectors, strict=True):
        source = VECTORS[0] if chunk.text == "three" else VECTORS[1]
        assert document.title == ("Beta" if chunk.text == "three" else "Alpha")
        assert document.text == chunk.text and chunk.end == len(chunk.text)
        assert float(vector @ source) > 0.99 and not np.array_equal(vector, source)
    np.testing.assert_allclose(np.linalg.norm(corpus.vectors, axis=1), 1.0, rtol=1e-6)
    again = synthetic_corpus(DOCUMENTS, CHUNKS, VECTORS, CHUNK_IDS, 50, 0.01, seed=3)
    np.testing.assert_array_equal(again.vectors, corpus.vectors)
    assert {c.text for c in corpus.chunks} == {"one two", "three"}


def test_recall_at_k_by_hand():
    exact = np.array([[1, 2, 3], [4, 5, 6]])
    approximate = np.array([[3, 2, 9], [4, 5, 6]])
    assert recall_at_k(approximate, exact, 3) == pytest.approx((2 / 3 + 1) / 2)
    assert recall_at_k(approximate, exact, 1) == pytest.approx(0.5)


def test_latency_times_every_call():
    seen = []
    latency = measure_latency(seen.append, 40, 4)
    assert sorted(seen) == list(range(40))
    assert latency.queries == 40 and latency.concurrency == 4
    assert 0 <= latency.p50_ms <= latency.p95_ms and latency.queries_per_second > 0


def test_retrieval_calls_answer_as_searcher_search(small_index):
    from hybridrag.search.hybrid import MODES
    from support.scale import retrieval_calls

    from .conftest import open_searcher

    queries = ["radium decay", "jazz in New Orleans", "green plants and light"]
    with open_searcher(small_index) as searcher:
        vectors = searcher.encode_queries(queries)
        calls = retrieval_calls(searcher.store, searcher.fusion, queries, vectors,
                                searcher.retrieval.depth, 5)
        assert set(calls) == set(MODES)
        for mode in MODES:
            for i, query in enumerate(queries):
                expected = [r.doc_id for r in searcher.search(query, k=5, mode=mode)]
                assert calls[mode](i) == expected and expected
