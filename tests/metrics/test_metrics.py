"""Hand-computed values, then agreement with pytrec_eval (trec_eval) on random runs with ties."""

import math
import random

import pytest
import pytrec_eval

from hybridrag.metrics import (
    evaluate,
    hit_rate_at_k,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank_at_k,
)
from hybridrag.ranking import rank_scores

JUDGED = {"a": 1, "c": 2, "x": 1, "z": 0}  # x is never retrieved, z judged not relevant
RANKED = ["b", "a", "z", "c", "d"]


def test_recall_counts_relevant_found_over_all_relevant():
    assert recall_at_k(RANKED, JUDGED, 1) == 0.0
    assert recall_at_k(RANKED, JUDGED, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, JUDGED, 5) == pytest.approx(2 / 3)


def test_hit_rate_is_one_once_any_relevant_appears():
    assert hit_rate_at_k(RANKED, JUDGED, 1) == 0.0
    assert hit_rate_at_k(RANKED, JUDGED, 2) == 1.0


def test_reciprocal_rank_uses_first_relevant_within_cutoff():
    assert reciprocal_rank_at_k(RANKED, JUDGED, 10) == 0.5
    assert reciprocal_rank_at_k(RANKED, JUDGED, 1) == 0.0


def test_ndcg_by_hand():
    dcg = 1 / math.log2(3) + 2 / math.log2(5)
    ideal = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKED, JUDGED, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(["c", "a", "x"], JUDGED, 3) == pytest.approx(1.0)


def test_no_relevant_documents_scores_zero():
    assert ndcg_at_k(RANKED, {"a": 0}, 10) == 0.0
    assert recall_at_k(RANKED, {}, 10) == 0.0


def test_evaluate_skips_unjudged_queries_and_counts_missing_runs_as_zero():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}
    means, per_query = evaluate({"q1": ["a"]}, qrels, (1,))
    assert set(per_query) == {"q1", "q2"}
    assert means["recall@1"] == 0.5
    assert per_query["q2"]["ndcg@10"] == 0.0


def random_benchmark(seed: int, n_queries: int = 40, n_docs: int = 60):
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(n_docs)]
    qrels, run = {}, {}
    for q in range(n_queries):
        qid = f"q{q}"
        qrels[qid] = {d: rng.choice([0, 1, 1, 2, 3]) for d in rng.sample(docs, rng.randint(1, 8))}
        # coarse scores make ties common, so the tie-break rule is exercised too
        run[qid] = {d: float(rng.randint(0, 9)) for d in rng.sample(docs, rng.randint(0, 40))}
    return qrels, run


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_pytrec_eval(seed):
    qrels, run = random_benchmark(seed)
    ks = (1, 3, 5, 10, 100)
    _, ours = evaluate({q: [d for d, _ in rank_scores(s)] for q, s in run.items()}, qrels, ks)
    measures = {"recall.1,3,5,10,100", "success.1,5,10", "ndcg_cut.10"}
    theirs = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    # trec_eval has no cutoff on recip_rank: give it the top 10 only
    top10 = {q: dict(rank_scores(s, 10)) for q, s in run.items()}
    theirs_rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    compared = 0
    for qid, values in theirs.items():
        if not run[qid] or qid not in ours:
            continue
        for k in ks:
            assert ours[qid][f"recall@{k}"] == pytest.approx(values[f"recall_{k}"], abs=1e-6)
        for k in (1, 5, 10):
            assert ours[qid][f"hit_rate@{k}"] == pytest.approx(values[f"success_{k}"], abs=1e-6)
        assert ours[qid]["ndcg@10"] == pytest.approx(values["ndcg_cut_10"], abs=1e-6)
        assert ours[qid]["mrr@10"] == pytest.approx(theirs_rr[qid]["recip_rank"], abs=1e-6)
        compared += 1
    assert compared > 25
