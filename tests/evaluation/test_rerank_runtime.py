"""The reranker runtime comparison on the small index: PyTorch is the reference, ONNX fp32 gives
its scores and order, int8 moves the scores, and nDCG@10 is the reranked candidates'."""

import math

from hybridrag.records import Query
from support.rerank_runtime import compare_runtimes

from ..conftest import open_searcher


def test_runtimes_score_the_same_candidates(small_reranker, small_index):
    model, _, pairs, _ = small_reranker
    queries = [Query(f"q{i}", pair.query) for i, pair in enumerate(pairs[:6])]
    qrels = {f"q{i}": {pair.doc_id: 1} for i, pair in enumerate(pairs[:6])}
    with open_searcher(small_index) as searcher:
        # weight 0 keeps the hybrid order: nDCG@10 worked out from where the relevant one stands
        hybrid = [[r.doc_id for r in searcher.search(q.text, k=5)] for q in queries]
        kept = compare_runtimes(searcher, model, 0.0, queries, qrels, depth=5, rounds=2)
        followed = compare_runtimes(searcher, model, 1.0, queries, qrels, depth=5, rounds=1)
    expected = sum(1 / math.log2(ranked.index(pair.doc_id) + 2)
                   for ranked, pair in zip(hybrid, pairs, strict=False) if pair.doc_id in ranked
                   ) / len(queries)
    torch_row, onnx_row, int8_row = kept
    assert [row["runtime"] for row in kept] == ["torch", "onnx", "onnx_int8"]
    assert all(row["ndcg@10"] == round(expected, 4) for row in kept)
    assert all(row["queries"] == 6 and row["candidates"] == 5 for row in kept)
    assert torch_row["speed_vs_torch"] == 1.0 and torch_row["max_score_difference"] == 0.0
    assert all(row["ms_per_query_p50"] > 0 for row in kept)
    assert onnx_row["max_score_difference"] < 1e-5 and onnx_row["same_order_as_torch"] == 1.0
    assert 1e-4 < int8_row["max_score_difference"] < 0.1
    torch_followed, onnx_followed, _ = followed
    assert onnx_followed["ndcg@10"] == torch_followed["ndcg@10"]
    assert onnx_followed["same_order_as_torch"] == 1.0
