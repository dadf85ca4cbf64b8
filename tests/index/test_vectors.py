"""FAISS indexes by kind: IVF's lists, its nprobe trade-off, and filtered searches that stay exact."""

import faiss
import numpy as np
import pytest

from hybridrag.index.vectors import build_vector_index, is_ivf, ivf_list_count, search_vectors


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, 16))
    points = centres[rng.integers(0, 20, 2000)] + 0.3 * rng.normal(size=(2000, 16))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def test_list_count_defaults_to_the_square_root():
    assert ivf_list_count(1_000_000, None) == 1000
    assert ivf_list_count(10_070, None) == 100
    assert ivf_list_count(10, 64) == 10 and ivf_list_count(500, 8) == 8


def test_ivf_recall_rises_with_nprobe_and_all_lists_is_exact(vectors):
    ids = np.arange(100, 100 + len(vectors), dtype=np.int64)
    flat = build_vector_index(vectors, ids, "flat")
    ivf = build_vector_index(vectors, ids, "ivf", ivf_lists=40)
    assert is_ivf(ivf) and faiss.extract_index_ivf(ivf.index).nlist == 40
    queries = vectors[:50] + 0.05
    _, exact = search_vectors(flat, queries, 10)
    recall = {}
    for nprobe in (1, 4, 40):
        _, found = search_vectors(ivf, queries, 10, nprobe=nprobe)
        recall[nprobe] = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)])
    assert recall[1] < recall[4] <= recall[40] == 1.0


def test_filtered_ivf_search_returns_the_exact_allowed_neighbours(vectors):
    ids = np.arange(len(vectors), dtype=np.int64)
    flat = build_vector_index(vectors, ids, "flat")
    ivf = build_vector_index(vectors, ids, "ivf", ivf_lists=40)
    allowed = ids[::97]  # 21 ids, most of them in lists a 1-list probe never visits
    _, exact = search_vectors(flat, vectors[:5], 10, allowed)
    _, found = search_vectors(ivf, vectors[:5], 10, allowed, nprobe=1)
    np.testing.assert_array_equal(found, exact)
    assert np.isin(found, allowed).all()


def test_ivf_index_survives_a_save_and_load(vectors, tmp_path):
    from hybridrag.index.vectors import load_vector_index, save_vector_index

    ids = np.arange(len(vectors), dtype=np.int64)
    ivf = build_vector_index(vectors, ids, "ivf", ivf_lists=40)
    save_vector_index(ivf, tmp_path / "v.faiss")
    loaded = load_vector_index(tmp_path / "v.faiss")
    np.testing.assert_array_equal(search_vectors(loaded, vectors[:5], 10, ids[::97], nprobe=1)[1],
                                  search_vectors(ivf, vectors[:5], 10, ids[::97], nprobe=1)[1])
