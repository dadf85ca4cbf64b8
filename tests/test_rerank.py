"""The cross-encoder reranker: score interpolation by hand, hard-negative mining, a real (tiny)
training run on MiniLM, save/load, and reranking inside the searcher."""

import numpy as np
import pytest

from hybridrag.rerank import (
    Reranker,
    TrainingQuery,
    candidate_passages,
    interpolate,
    training_columns,
    weight_sweep,
)
from hybridrag.search.searcher import Searcher


def test_interpolate_min_max_normalises_both_scores():
    reranker = {"a": 2.0, "b": 0.0, "c": 1.0}  # -> 1, 0, 0.5
    first_stage = {"a": 0.0, "b": 4.0, "c": 2.0}  # -> 0, 1, 0.5
    assert interpolate(reranker, first_stage, 0.25) == pytest.approx({"a": 0.25, "b": 0.75, "c": 0.5})
    assert interpolate(reranker, first_stage, 1.0) == pytest.approx({"a": 1.0, "b": 0.0, "c": 0.5})


def test_mined_examples_are_the_positive_and_hard_negatives_of_other_documents(small_reranker,
                                                                             small_index):
    _, _, pairs, examples = small_reranker
    assert [e.query for e in examples] == [p.query for p in pairs]
    with Searcher(small_index, device="cpu") as searcher:
        for pair, example in zip(pairs, examples, strict=True):
            others = [r for r in searcher.search(pair.query, k=5) if r.doc_id != pair.doc_id]
            assert example.positive == pair.passage
            assert example.negatives == tuple(candidate_passages(searcher, others[:2]))


def test_training_columns_for_each_loss():
    examples = [TrainingQuery("q1", "p1", ("n1", "n2")), TrainingQuery("q2", "p2", ("n3",))]
    bce = training_columns(examples, "bce", seed=0)
    assert sorted(zip(bce["query"], bce["passage"], bce["label"], strict=True)) == [
        ("q1", "n1", 0.0), ("q1", "n2", 0.0), ("q1", "p1", 1.0), ("q2", "n3", 0.0), ("q2", "p2", 1.0)]
    assert training_columns(examples, "mnrl", seed=0) == {
        "query": ["q1"], "positive": ["p1"], "negative_1": ["n1"], "negative_2": ["n2"]}
    with pytest.raises(ValueError, match="unknown reranker loss 'hinge'"):
        training_columns(examples, "hinge", seed=0)


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
    with Searcher(small_index, device="cpu") as searcher:
        query = "heat engines and thermodynamics"
        results = searcher.search(query, k=6)
        passages = candidate_passages(searcher, results)
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


def test_searcher_reranks_its_top_depth(small_reranker, small_index):
    _, folder, pairs, _ = small_reranker
    with Searcher(small_index, device="cpu", reranker=folder, rerank_depth=8) as searcher:
        plain = searcher.search("the structure of DNA", k=8)
        reranked = searcher.search("the structure of DNA", k=3, rerank=True)
        assert len(reranked) == 3
        assert {r.doc_id for r in reranked} <= {r.doc_id for r in plain}
        assert all(r.rerank_score is not None and 1 <= r.first_stage_rank <= 8 for r in reranked)
        sweep, seconds = weight_sweep(searcher.reranker, searcher, pairs, 8, (0.0, 1.0))
        assert [row["weight"] for row in sweep] == [0.0, 1.0]
        gains = []  # weight 0 is the first stage: nDCG@10 with one relevant document per query
        for pair in pairs:
            ranking = [r.doc_id for r in searcher.search(pair.query, k=8)]
            gains.append(1 / np.log2(ranking.index(pair.doc_id) + 2) if pair.doc_id in ranking else 0)
        assert sweep[0]["ndcg@10"] == pytest.approx(np.mean(gains), abs=1e-5)
        assert 0.0 <= sweep[1]["ndcg@10"] <= 1.0 and seconds > 0
    with Searcher(small_index, device="cpu") as searcher, pytest.raises(ValueError,
                                                                       match="has no reranker"):
        searcher.search("DNA", rerank=True)
