"""The bulk-embedding comparison on the small corpus: torch is the reference, ONNX fp32 gives its
vectors, int8 moves them a little, and every index is scored on the same queries."""

from hybridrag.evaluation.embed_backends import compare_backends
from hybridrag.records import Dataset, Query

from ..conftest import PARAMS, make_documents


def test_backends_are_compared_on_the_same_chunks_and_queries(encoder, tmp_path):
    documents = make_documents()
    queries = [Query(f"q{i}", d.title) for i, d in enumerate(documents[:8])]
    qrels = {f"q{i}": {d.doc_id: 1} for i, d in enumerate(documents[:8])}
    params = PARAMS.model_copy(update={"chunk": PARAMS.chunk.updated(size=12, overlap=3)})
    rows = compare_backends(Dataset(documents, queries, {"test": qrels}), "test", params,
                            tmp_path, encoder)
    torch_row, onnx_row, int8_row = rows
    assert [row["backend"] for row in rows] == ["torch", "onnx", "onnx_int8"]
    assert len({row["chunks"] for row in rows}) == 1 and torch_row["chunks"] > len(documents)
    assert torch_row["speed_vs_reference"] == 1.0
    assert torch_row["min_cosine_to_reference"] > 0.99999
    assert onnx_row["min_cosine_to_reference"] > 0.99999
    assert 0.95 < int8_row["min_cosine_to_reference"] < 0.9999
    assert onnx_row["dense_ndcg@10"] == torch_row["dense_ndcg@10"]
    assert all(0.5 < row[f"{mode}_ndcg@10"] <= 1.0 for row in rows for mode in ("dense", "hybrid"))
