import pytest

from hybridrag.evaluation.retrieval import (
    Candidates,
    best_sweep_setting,
    evaluate_modes,
    fusion_sweep,
    per_query_rows,
    select_queries,
    sweep_table,
)
from hybridrag.records import Query
from hybridrag.search.hits import Hit

from ..conftest import FUSION, PARAMS

# q1: bm25 finds the answer at rank 2, dense at rank 1. q2: only bm25 finds it (rank 1).
CANDIDATES = Candidates(
    bm25={"q1": [Hit("x", 0, 3.0, 1), Hit("rel1", 1, 2.0, 2)], "q2": [Hit("rel2", 2, 5.0, 1)]},
    dense={"q1": [Hit("rel1", 1, 0.9, 1), Hit("y", 3, 0.1, 2)], "q2": [Hit("z", 4, 0.8, 1)]},
    bm25_seconds=0.0, dense_seconds=0.0)
QRELS = {"q1": {"rel1": 1}, "q2": {"rel2": 1}}


def test_each_mode_is_scored_on_the_same_candidates():
    means, runs, per_query = evaluate_modes(CANDIDATES, QRELS, FUSION, (1, 10))
    assert means["bm25"]["mrr@10"] == pytest.approx((0.5 + 1.0) / 2)
    assert means["dense"]["mrr@10"] == pytest.approx((1.0 + 0.0) / 2)
    assert means["dense"]["recall@10"] == 0.5
    assert runs["hybrid_rrf"]["q1"][0] == "rel1"  # ranks 2 + 1 beat x's 1 + absent
    assert means["hybrid"] == means["hybrid_weighted"]
    assert per_query["bm25"]["q2"]["hit_rate@1"] == 1.0


def test_sweep_covers_every_setting_and_picks_the_best():
    params = PARAMS.eval_retrieval.updated(k_values=(1, 10), sweep_dense_weights=(0.0, 1.0),
                                           sweep_rrf_k=(60,))
    rows = fusion_sweep(CANDIDATES, QRELS, FUSION, params)
    assert [(r["method"], r["normalization"], r["dense_weight"], r["rrf_k"]) for r in rows] == [
        ("weighted", "minmax", 0.0, None), ("weighted", "minmax", 1.0, None),
        ("weighted", "zscore", 0.0, None), ("weighted", "zscore", 1.0, None), ("rrf", "", None, 60)]
    best = best_sweep_setting(rows, FUSION)
    assert max(r["ndcg@10"] for r in rows) == next(
        r["ndcg@10"] for r in rows if r["method"] == best.method
        and (best.method == "rrf" or r["dense_weight"] == best.dense_weight))
    assert "| weighted | minmax | 0 |" in sweep_table(rows)
    assert fusion_sweep(CANDIDATES, {}, FUSION, params) == []


def test_per_query_rows_report_first_relevant_rank():
    _, runs, per_query = evaluate_modes(CANDIDATES, QRELS, FUSION, (10,))
    rows = per_query_rows([Query("q1", "one"), Query("q2", "two")], QRELS, runs, per_query)
    assert rows[0]["modes"]["bm25"]["first_relevant_rank"] == 2
    assert rows[1]["modes"]["dense"]["first_relevant_rank"] is None
    assert rows[0]["modes"]["dense"]["top"] == ["rel1", "y"]


def test_select_queries_keeps_judged_ones_and_subsamples_deterministically():
    queries = [Query(f"q{i}", "t") for i in range(10)]
    qrels = {f"q{i}": {"d": 1} for i in range(8)} | {"q8": {"d": 0}}
    assert [q.query_id for q in select_queries(queries, qrels, None)] == [f"q{i}" for i in range(8)]
    subset = select_queries(queries, qrels, 3, seed=1)
    assert len(subset) == 3 and subset == select_queries(queries, qrels, 3, seed=1)
