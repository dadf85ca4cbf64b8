"""Hand-computed fusion values, then agreement with ranx on the same runs."""

import random

import pytest

from hybridrag.fusion import minmax, reciprocal_rank_fusion, weighted_sum, zscore


def test_rrf_uses_one_based_ranks():
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=60)
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 62)


def test_minmax_scales_to_unit_interval_and_equal_scores_get_one():
    assert minmax({"a": 2.0, "b": 4.0, "c": 3.0}) == {"a": 0.0, "b": 1.0, "c": 0.5}
    assert minmax({"a": 5.0}) == {"a": 1.0}
    assert minmax({}) == {}


def test_zscore_centres_and_scales():
    normalized = zscore({"a": 1.0, "b": 3.0})
    assert normalized == {"a": pytest.approx(-1.0), "b": pytest.approx(1.0)}
    assert zscore({"a": 2.0, "b": 2.0}) == {"a": 0.0, "b": 0.0}


def test_weighted_sum_counts_absent_documents_as_zero():
    fused = weighted_sum([{"a": 1.0, "b": 0.5}, {"b": 1.0, "c": 0.2}], [0.25, 0.75])
    assert fused == {"a": pytest.approx(0.25), "b": pytest.approx(0.875), "c": pytest.approx(0.15)}
    with pytest.raises(ValueError):
        weighted_sum([{"a": 1.0}], [0.5, 0.5])


def random_runs(seed: int, n_queries: int = 20):
    rng = random.Random(seed)
    runs = [{}, {}]
    for q in range(n_queries):
        for run in runs:
            docs = rng.sample([f"d{i}" for i in range(50)], rng.randint(2, 30))
            run[f"q{q}"] = {d: rng.uniform(-5, 20) for d in docs}  # continuous: no ties
    return runs


@pytest.mark.parametrize("seed", [0, 1])
def test_agrees_with_ranx(seed):
    from ranx import Run, fuse

    runs = random_runs(seed)
    ranx_runs = [Run(run) for run in runs]
    expected = {
        "rrf": fuse(ranx_runs, norm=None, method="rrf", params={"k": 60}).to_dict(),
        "minmax": fuse(ranx_runs, norm="min-max", method="wsum",
                       params={"weights": [0.3, 0.7]}).to_dict(),
        "zscore": fuse(ranx_runs, norm="zmuv", method="wsum",
                       params={"weights": [0.3, 0.7]}).to_dict(),
    }
    for qid in runs[0]:
        ranked = [sorted(run[qid], key=run[qid].get, reverse=True) for run in runs]
        ours = {
            "rrf": reciprocal_rank_fusion(ranked, k=60),
            "minmax": weighted_sum([minmax(run[qid]) for run in runs], [0.3, 0.7]),
            "zscore": weighted_sum([zscore(run[qid]) for run in runs], [0.3, 0.7]),
        }
        for method, fused in ours.items():
            assert fused.keys() == expected[method][qid].keys()
            for doc, score in fused.items():
                assert score == pytest.approx(expected[method][qid][doc], abs=1e-9), (method, qid)
