"""The bulk-embedding comparison on the small corpus: torch is the reference, ONNX fp32 gives its
vectors, int8 moves them a little, and every index is scored on the same queries."""

from hybridrag.records import Dataset, Query
from support.embed_backends import compare_backends

from ..conftest import PARAMS, make_documents


def test_backends_are_compared_on_the_same_chunks_and_queries(encoder, tmp_path):
    documents = make_documents()
    queries = [Query(f"q{i}", d.title) for i, d in enumerate(documents[:8])]
    qrels = {f"q{i}": {d.doc_id: 1} for i, d in enumerate(documents[:8])}
    params = PARAMS.model_copy(update={"chunk": PARAMS.chunk.updated(size=12, overlap=3)})
    rows = compare_backends(Dataset(documents, queries, {"test": qrels}), "test", params,
                            tmp_path, encoder, indexed=("torch", "onnx", "onnx_int8"),
                            speed_sample=10, rounds=1)
    torch_row, onnx_row, int8_row = rows
    assert [row["backend"] for row in rows] == ["torch", "onnx", "onnx_int8"]
    assert len({row["chunks"] for row in rows}) == 1 and torch_row["chunks"] > len(documents)
    assert torch_row["speed_vs_reference"] == 1.0 and torch_row["speed_sample"] == 10
    assert all(row["chunks_per_second"] > 0 and row["full_embed_seconds"] > 0 for row in rows)
    assert torch_row["min_cosine_to_reference"] > 0.99999
    assert onnx_row["min_cosine_to_reference"] > 0.99999
    assert 0.95 < int8_row["min_cosine_to_reference"] < 0.9999
    assert onnx_row["dense_ndcg@10"] == torch_row["dense_ndcg@10"]
    assert all(0.5 < row[f"{mode}_ndcg@10"] <= 1.0 for row in rows for mode in ("dense", "hybrid"))


def test_a_backend_left_out_of_the_indexed_ones_is_only_timed(encoder, tmp_path):
    documents = make_documents()[:6]
    dataset = Dataset(documents, [Query("q", documents[0].title)], {"test": {"q": {"d00": 1}}})
    rows = compare_backends(dataset, "test", PARAMS, tmp_path, encoder, ("torch", "onnx"),
                            indexed=("torch",), speed_sample=4, rounds=1)
    assert "dense_ndcg@10" in rows[0] and set(rows[1]) == {
        "backend", "chunks", "speed_sample", "chunks_per_second", "speed_vs_reference"}
