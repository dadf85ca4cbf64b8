import pytest

from hybridrag.ranking import rank_scores
from hybridrag.search.hits import Hit, collapse_chunks
from hybridrag.search.hybrid import combine, mode_scores

from ..conftest import FUSION

BM25 = [Hit("a", 1, 9.0, 1), Hit("b", 2, 5.0, 2), Hit("c", 3, 1.0, 3)]
DENSE = [Hit("c", 30, 0.9, 1), Hit("a", 10, 0.7, 2), Hit("d", 40, 0.5, 3)]


def test_rank_scores_breaks_ties_by_doc_id_descending():
    assert rank_scores({"a": 1.0, "c": 1.0, "b": 2.0}) == [("b", 2.0), ("c", 1.0), ("a", 1.0)]
    assert rank_scores({"a": 1.0, "b": 2.0}, depth=1) == [("b", 2.0)]


def test_collapse_keeps_each_documents_best_chunk():
    chunk_doc = {1: "x", 2: "x", 3: "y", 4: "z"}
    hits = collapse_chunks([(1, 0.2), (2, 0.8), (3, 0.5), (4, 0.5)], chunk_doc, depth=2)
    assert hits == [Hit("x", 2, 0.8, 1), Hit("z", 4, 0.5, 2)]


def test_weighted_minmax_fusion_by_hand():
    params = FUSION.updated(method="weighted", normalization="minmax", dense_weight=0.5)
    scores = mode_scores(BM25, DENSE, "hybrid", params)
    # bm25 minmax: a 1, b 0.5, c 0; dense minmax: c 1, a 0.5, d 0
    assert scores == pytest.approx({"a": 0.75, "b": 0.25, "c": 0.5, "d": 0.0})


def test_rrf_fusion_by_hand():
    scores = mode_scores(BM25, DENSE, "hybrid", FUSION.updated(method="rrf", rrf_k=10))
    assert scores == pytest.approx({"a": 1 / 11 + 1 / 12, "b": 1 / 12, "c": 1 / 13 + 1 / 11,
                                    "d": 1 / 13})


def test_combine_explains_each_result():
    fusion = FUSION.updated(method="weighted", normalization="minmax", dense_weight=0.5)
    results = combine(BM25, DENSE, "hybrid", fusion, k=3)
    assert [r.doc_id for r in results] == ["a", "c", "b"]
    a, c, b = results
    assert (a.bm25, a.dense) == (BM25[0], DENSE[1]) and a.chunk_id == 1  # better rank in bm25
    assert c.chunk_id == 30  # ranked 1st by dense, 3rd by bm25
    assert b.dense is None and b.chunk_id == 2


def test_single_retriever_modes_keep_their_own_scores():
    assert [(r.doc_id, r.score) for r in combine(BM25, DENSE, "dense", FUSION, 2)] == [
        ("c", 0.9), ("a", 0.7)]
    with pytest.raises(ValueError, match="unknown search mode"):
        combine(BM25, DENSE, "sparse", FUSION, 2)
