"""Search over a small real index: retrievers, fusion explanations, filters inside both retrievers."""

import pytest

from hybridrag.fusion import minmax
from hybridrag.search.filters import Filters, parse_filters

from ..conftest import FUSION, RETRIEVAL, build_small_index, make_documents, open_searcher
from .test_fts_query import HOSTILE

DOCS = {d.doc_id: d for d in make_documents()}


@pytest.fixture(scope="module")
def searcher(small_index):
    with open_searcher(small_index, retrieval=RETRIEVAL.updated(depth=30)) as s:
        yield s


def test_bm25_returns_only_matching_documents_with_ties_by_doc_id_descending(searcher):
    results = searcher.search("radium decay", k=3, mode="bm25")
    # d00 and d01 differ only in the (equally long) author name, so BM25 ties them exactly
    assert [r.doc_id for r in results] == ["d01", "d00"]
    assert results[0].bm25 is not None and results[0].dense is None
    assert results[0].score == results[0].bm25.score == results[1].score


def test_dense_finds_paraphrases(searcher):
    results = searcher.search("gamma rays from unstable elements", k=2, mode="dense")
    assert {r.doc_id for r in results} == {"d00", "d01"}


def test_hybrid_results_explain_their_fused_score(searcher):
    params = FUSION.updated(method="weighted", dense_weight=0.3, normalization="minmax")
    results = searcher.search("tomato berry", k=5, mode="hybrid", fusion=params)
    bm25, dense = searcher.retrieve("tomato berry", depth=30)
    bm25_norm = minmax({h.doc_id: h.score for h in bm25})
    dense_norm = minmax({h.doc_id: h.score for h in dense})
    assert {r.doc_id for r in results[:2]} == {"d08", "d09"}
    for result in results:
        expected = 0.7 * bm25_norm.get(result.doc_id, 0.0) + 0.3 * dense_norm.get(result.doc_id, 0.0)
        assert result.score == pytest.approx(expected)
        assert result.chunk_id in (result.bm25.chunk_id if result.bm25 else None,
                                   result.dense.chunk_id if result.dense else None)
    assert [r.rank for r in results] == [1, 2, 3, 4, 5]


def test_rrf_scores_are_sums_of_reciprocal_ranks(searcher):
    results = searcher.search("jazz", k=3, fusion=FUSION.updated(method="rrf", rrf_k=60))
    top = results[0]
    expected = sum(1 / (60 + hit.rank) for hit in (top.bm25, top.dense) if hit)
    assert top.score == pytest.approx(expected)


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_filters_apply_inside_retrievers_so_k_results_come_back(searcher, mode):
    # Only music documents may match; "essay" is in every document, so BM25 can fill k too.
    results = searcher.search("essay radium", k=8, mode=mode, filters=Filters(topic="MUSIC"))
    assert len(results) == 8
    assert all(DOCS[r.doc_id].topic == "music" for r in results)


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_metadata_filters_combine(searcher, mode):
    filters = parse_filters(["author=curie", "year=1900..1905", "keyword=physics"])
    results = searcher.search("essay", k=10, mode=mode, filters=filters)
    assert sorted(r.doc_id for r in results) == ["d00", "d02", "d04"]


def test_filter_matching_nothing_returns_nothing(searcher):
    assert searcher.search("essay", k=5, filters=Filters(year_min=1800, year_max=1801)) == []


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_are_searched_not_parsed(searcher, query):
    results = searcher.search(query, k=3, mode="bm25")
    assert isinstance(results, list)


def test_unknown_mode_is_refused(searcher):
    with pytest.raises(ValueError, match="unknown search mode 'fuzzy'"):
        searcher.search("x", mode="fuzzy")


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_index_agrees_with_flat_and_filters_exactly(tmp_path, encoder, searcher, kind):
    folder = tmp_path / kind
    build_small_index(folder, make_documents(), encoder, faiss_index=kind)
    with open_searcher(folder, retrieval=RETRIEVAL.updated(depth=30)) as hnsw:
        for query in ("baroque fugue", "DNA structure"):
            assert ([r.doc_id for r in hnsw.search(query, k=3, mode="dense")]
                    == [r.doc_id for r in searcher.search(query, k=3, mode="dense")])
        filtered = hnsw.search("radium", k=3, mode="dense", filters=Filters(topic="music"))
        assert len(filtered) == 3 and all(DOCS[r.doc_id].topic == "music" for r in filtered)


def test_missing_index_says_how_to_build_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="dvc repro build_db"):
        open_searcher(tmp_path / "nowhere")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_an_unknown_embedding_set_is_named_whatever_the_backend(small_index, backend):
    from hybridrag.backends import open_store

    from ..conftest import PARAMS

    with pytest.raises(ValueError, match="no 'large' embeddings"):
        open_store(PARAMS.store.updated(backend=backend), small_index,
                   RETRIEVAL.updated(embedding="large"))


@pytest.mark.parametrize(("precision", "backend"),
                         [("int8", "torch"), ("fp32", "torch"), ("fp32", "onnx")])
def test_batch_query_vectors_are_the_served_ones_at_either_precision(small_index, precision,
                                                                     backend):
    """Evaluation encodes queries in bulk; the service one by one on its encoder thread: both
    must give a query the same vector, or the metrics would not be the served system's (the
    service's own fp32 encoder is the ONNX one on CPU)."""
    import numpy as np

    texts = ["decay of radium", "a much longer question about the engines of the steam age", "x"]
    retrieval = RETRIEVAL.updated(query_precision=precision)
    with open_searcher(small_index, retrieval=retrieval, encoder_backend=backend) as s:
        assert s.query_encoder.backend == ("onnx_int8" if precision == "int8" else backend)
        served = np.stack([s.query_encoder.encode(text) for text in texts])
        assert np.abs(s.encode_queries(texts) - served).max() <= (0.0 if precision == "int8" else 1e-5)
