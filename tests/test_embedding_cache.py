"""The embedding cache: a changed corpus re-encodes only new and changed chunks, and the result
equals encoding everything again (vectors, and the index built from them)."""

import dataclasses
import shutil

import numpy as np
import pytest

from hybridrag.chunking import chunk_documents
from hybridrag.embedding import resolve_model_path
from hybridrag.embedding_cache import cache_keys, cached_rows, model_fingerprint
from hybridrag.embedding_store import EmbeddingInfo, EmbeddingSet, load_embeddings, save_embeddings
from hybridrag.index import build_index
from hybridrag.pipeline import embed_chunks_reusing
from hybridrag.records import Document

from .conftest import MODEL, PARAMS, make_documents, open_searcher

EMBED = PARAMS.embed.updated(model=MODEL, device="cpu")
CHUNK = PARAMS.chunk.updated(size=12, overlap=3)


def test_keys_follow_text_weights_and_token_limit():
    keys = cache_keys(["a", "b", "a"], "w1", 128)
    assert keys.dtype == np.dtype("S16") and keys[0] == keys[2] and keys[0] != keys[1]
    assert cache_keys(["a"], "w2", 128)[0] != keys[0]
    assert cache_keys(["a"], "w1", 256)[0] != keys[0]
    assert cache_keys(["a"], "w1", 128, "torch")[0] == keys[0]  # caches from before the backends
    assert len({cache_keys(["a"], "w1", 128, b)[0] for b in ("torch", "onnx", "onnx_int8")}) == 3


def test_fingerprint_changes_with_any_file_of_the_model(tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(resolve_model_path(MODEL), copy)
    assert model_fingerprint(copy) == model_fingerprint(resolve_model_path(MODEL))
    (copy / "config.json").write_text((copy / "config.json").read_text() + " ")
    assert model_fingerprint(copy) != model_fingerprint(resolve_model_path(MODEL))


def test_rows_are_found_by_key_and_a_set_without_keys_reuses_nothing():
    info = EmbeddingInfo("m", 2, True, 8)
    previous = EmbeddingSet(np.eye(2, dtype=np.float32), np.array([5, 6]), info,
                            np.array([b"x", b"y"], dtype="S16"))
    assert cached_rows(previous, np.array([b"y", b"z", b"x"], dtype="S16")) == {0: 1, 2: 0}
    assert cached_rows(EmbeddingSet(previous.vectors, previous.chunk_ids, info),
                       np.array([b"x"], dtype="S16")) == {}
    assert cached_rows(None, np.array([b"x"], dtype="S16")) == {}


def edited(documents: list[Document]) -> list[Document]:
    """The corpus after an edit: d00's text changed, d01 removed, a new document added."""
    changed = dataclasses.replace(documents[0], text="A new essay on radium.")
    added = Document(doc_id="new", title="Glaciers", text="Glaciers carve valleys. " * 4)
    return [changed, *documents[2:], added]


@pytest.fixture(scope="module")
def corpora(encoder, tmp_path_factory):
    before = make_documents()
    after = edited(before)
    chunks_before = list(chunk_documents(before, CHUNK.size, CHUNK.overlap))
    chunks_after = list(chunk_documents(after, CHUNK.size, CHUNK.overlap))
    full_before, encoded_before = embed_chunks_reusing(before, chunks_before, EMBED, None, encoder)
    saved = tmp_path_factory.mktemp("embeddings") / "base"
    save_embeddings(saved, full_before)
    incremental, encoded = embed_chunks_reusing(after, chunks_after, EMBED, load_embeddings(saved),
                                                encoder)
    fresh, _ = embed_chunks_reusing(after, chunks_after, EMBED, None, encoder)
    return {"after": after, "chunks_after": chunks_after, "encoded_before": encoded_before,
            "chunks_before": chunks_before, "incremental": incremental, "encoded": encoded,
            "fresh": fresh}


def test_only_new_and_changed_chunks_are_encoded(corpora):
    assert corpora["encoded_before"] == len(corpora["chunks_before"])
    changed = [c for c in corpora["chunks_after"] if c.doc_id in ("d00", "new")]
    assert 0 < corpora["encoded"] == len(changed) < len(corpora["chunks_after"]) / 5


def test_incremental_vectors_equal_a_full_encode(corpora):
    incremental, fresh = corpora["incremental"], corpora["fresh"]
    np.testing.assert_array_equal(incremental.chunk_ids, fresh.chunk_ids)
    np.testing.assert_array_equal(incremental.keys, fresh.keys)
    np.testing.assert_allclose(incremental.vectors, fresh.vectors, atol=1e-5)
    assert incremental.info == fresh.info
    assert "d01" not in {c.doc_id for c in corpora["chunks_after"]}


def test_index_from_reused_vectors_answers_like_a_full_rebuild(corpora, tmp_path):
    results = []
    for name in ("incremental", "fresh"):
        build_index(tmp_path / name, corpora["after"], corpora["chunks_after"],
                    {"base": corpora[name]}, PARAMS.build_db)
        searcher = open_searcher(tmp_path / name)
        results.append([[(h.doc_id, round(h.score, 4)) for h in searcher.search(q, k=5, mode=mode)]
                        for q in ("glaciers carve valleys", "radium decay", "jazz")
                        for mode in ("dense", "hybrid")])
    assert results[0] == results[1]
    assert results[0][0][0][0] == "new"


def test_int8_embeddings_say_so_and_the_index_encodes_its_queries_in_int8(encoder, tmp_path):
    documents = make_documents()
    chunks = list(chunk_documents(documents, CHUNK.size, CHUNK.overlap))
    torch_set, _ = embed_chunks_reusing(documents, chunks, EMBED, None, encoder)
    int8_set, encoded = embed_chunks_reusing(documents, chunks, EMBED.updated(backend="onnx_int8"),
                                             torch_set, encoder)
    assert encoded == len(chunks)  # a new backend re-encodes everything
    assert (torch_set.info.backend, int8_set.info.backend) == ("torch", "onnx_int8")
    build_index(tmp_path / "int8", documents, chunks, {"base": int8_set}, PARAMS.build_db)
    searcher = open_searcher(tmp_path / "int8")
    assert searcher.embedding.backend == "onnx_int8"
    assert searcher.query_encoder.backend == "onnx_int8"
    query = "radium decay"
    vector = searcher.encode_queries([query])[0]
    np.testing.assert_allclose(vector, searcher.query_encoder.encode(query), atol=1e-6)
    assert searcher.search(query, k=1, mode="dense")[0].doc_id == \
        open_searcher_over(tmp_path / "torch", documents, chunks, torch_set).search(
            query, k=1, mode="dense")[0].doc_id


def open_searcher_over(folder, documents, chunks, embeddings):
    build_index(folder, documents, chunks, {"base": embeddings}, PARAMS.build_db)
    return open_searcher(folder)
