"""Query-time reranking: score interpolation by hand, a trained cross-encoder saved and loaded,
weight 0 keeping the first stage and weight 1 following the cross-encoder."""

import numpy as np
import pytest

from hybridrag.search.rerank import Reranker, interpolate

from ..conftest import open_searcher


def test_interpolate_min_max_normalises_both_scores():
    reranker = {"a": 2.0, "b": 0.0, "c": 1.0}  # -> 1, 0, 0.5
    first_stage = {"a": 0.0, "b": 4.0, "c": 2.0}  # -> 0, 1, 0.5
    assert interpolate(reranker, first_stage, 0.25) == pytest.approx({"a": 0.25, "b": 0.75, "c": 0.5})
    assert interpolate(reranker, first_stage, 1.0) == pytest.approx({"a": 1.0, "b": 0.0, "c": 0.5})


def test_saved_reranker_reloads_to_the_same_scores(small_reranker):
    model, folder, pairs, _ = small_reranker
    loaded = Reranker.load(folder, device="cpu")
    assert loaded.weight == 0.5
    passages = [p.passage for p in pairs[:4]]
    np.testing.assert_allclose(loaded.scores(pairs[0].query, passages),
                               Reranker(model, 0.5).scores(pairs[0].query, passages), atol=1e-5)
    with pytest.raises(FileNotFoundError, match="no reranker at"):
        Reranker.load(folder.parent / "missing")


def test_rerank_weight_0_keeps_the_first_stage_and_weight_1_follows_the_cross_encoder(
        small_reranker, small_index):
    model, _, _, _ = small_reranker
    with open_searcher(small_index) as searcher:
        query = "heat engines and thermodynamics"
        results = searcher.search(query, k=6)
        passages = searcher.passages(results)
        scores = Reranker(model, 0.0).scores(query, passages)
        kept = Reranker(model, 0.0).rerank(query, results, passages)
        assert [r.doc_id for r in kept] == [r.doc_id for r in results]
        assert [r.first_stage_rank for r in kept] == [1, 2, 3, 4, 5, 6]
        by_doc = {r.doc_id: r.rerank_score for r in kept}
        assert [by_doc[r.doc_id] for r in results] == pytest.approx(scores.tolist(), abs=1e-6)
        followed = Reranker(model, 1.0).rerank(query, results, passages)
        assert [r.doc_id for r in followed] == [results[i].doc_id for i in np.argsort(-scores,
                                                                                      kind="stable")]
        assert [r.rank for r in followed] == [1, 2, 3, 4, 5, 6]
