import faiss
import numpy as np
import pytest

from hybridrag.index.vectors import build_vector_index
from hybridrag.search.half_scan import HalfPrecisionScan, scan_in_half_precision

from ..conftest import open_searcher


def unit_rows(count: int, dim: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_scores_that_fp16_cannot_tell_apart_come_back_in_exact_order():
    # 0.50001 and 0.50002 both round to 0.5 in fp16; fp32 tells them apart
    vectors = np.array([[0.25, 0, 0, 0], [0.50001, 0, 0, 0], [0.50002, 0, 0, 0], [0.1, 0, 0, 0]],
                       dtype=np.float32)
    index = build_vector_index(vectors, np.array([10, 11, 12, 13]))
    scores, ids = HalfPrecisionScan(index).search(np.array([[1, 0, 0, 0]], dtype=np.float32), 2)
    assert ids.tolist() == [[12, 11]]
    assert scores[0] == pytest.approx([0.50002, 0.50001], abs=1e-7)


def test_a_tie_wider_than_the_first_candidates_is_resolved_exactly():
    # 100 vectors equal in fp16 (first search: 5 + 16 candidates), distinct in fp32
    vectors = np.zeros((100, 8), dtype=np.float32)
    vectors[:, 0] = 0.5 + 1e-6 * np.arange(100)
    vectors[:, 1] = 0.5  # the query below does not read it
    index = build_vector_index(vectors, np.arange(1000, 1100))
    query = np.eye(8, dtype=np.float32)[:1]
    _, ids = HalfPrecisionScan(index).search(query, 5)
    assert ids.tolist() == [[1099, 1098, 1097, 1096, 1095]]


def test_equals_the_flat_search_on_random_unit_vectors():
    vectors, queries = unit_rows(3000, 64, seed=1), unit_rows(40, 64, seed=2)
    index = build_vector_index(vectors, np.arange(3000) * 7 + 3)
    scores, ids = HalfPrecisionScan(index).search(queries, 25)
    expected = np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :25]
    assert (ids == expected * 7 + 3).all()
    assert np.abs(scores - np.take_along_axis(queries @ vectors.T, expected, axis=1)).max() < 1e-6


def test_filtered_searches_go_to_the_flat_index():
    vectors, queries = unit_rows(200, 16, seed=3), unit_rows(3, 16, seed=4)
    index = build_vector_index(vectors, np.arange(200))
    allowed = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.arange(0, 200, 3)))
    scores, ids = HalfPrecisionScan(index).search(queries, 5, params=allowed)
    reference = queries @ vectors[::3].T
    assert (ids == np.argsort(-reference, axis=1)[:, :5] * 3).all()
    assert np.abs(scores - np.sort(reference, axis=1)[:, ::-1][:, :5]).max() < 1e-6


def test_only_flat_inner_product_indexes_are_accepted():
    vectors = unit_rows(50, 8, seed=5)
    with pytest.raises(ValueError, match="flat inner-product"):
        HalfPrecisionScan(build_vector_index(vectors, np.arange(50), kind="hnsw"))
    too_large = build_vector_index(vectors * 1e6, np.arange(50))
    with pytest.raises(ValueError, match="fp16's range"):
        HalfPrecisionScan(too_large)


def test_a_searcher_over_the_small_index_finds_the_same_documents(small_index):
    searcher = open_searcher(small_index)
    queries = ["edible berry", "symphonies", "heat engines", "gravity and relativity", "DNA"]
    before = [[(h.doc_id, h.chunk_id, h.score) for h in searcher.dense.search(
        searcher.encode_queries([q]), 10)[0]] for q in queries]
    assert scan_in_half_precision(searcher.dense)
    assert isinstance(searcher.dense.index, HalfPrecisionScan)
    after = [[(h.doc_id, h.chunk_id, h.score) for h in searcher.dense.search(
        searcher.encode_queries([q]), 10)[0]] for q in queries]
    assert [[hit[:2] for hit in hits] for hits in after] == [[hit[:2] for hit in hits]
                                                             for hits in before]
    assert np.allclose([hit[2] for hits in after for hit in hits],
                       [hit[2] for hits in before for hit in hits], atol=1e-6)
    assert not scan_in_half_precision(searcher.dense)  # already scanning in fp16
    searcher.close()
