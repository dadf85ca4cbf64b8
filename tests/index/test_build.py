"""The index folder: database contents, FAISS keyed by chunk id, atomic replacement."""

import sqlite3

import numpy as np
import pytest

from hybridrag.embedding_store import EmbeddingInfo, EmbeddingSet
from hybridrag.index import DATABASE, build_index, embedding_info, read_manifest, vectors_file
from hybridrag.index.database import connect_readonly, fetch_chunks, fetch_documents
from hybridrag.index.vectors import load_vector_index
from hybridrag.records import Chunk, Document

from ..conftest import PARAMS, make_documents


def test_database_holds_documents_keywords_and_searchable_chunks(small_index):
    connection = connect_readonly(small_index / DATABASE)
    documents = make_documents()
    assert connection.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == len(documents)
    stored = fetch_documents(connection, ["d05", "missing"])
    assert stored == {"d05": documents[5]}
    matches = connection.execute(
        "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'title:fugue'").fetchone()[0]
    assert matches > 0
    for _chunk_id, start, end, text, doc_text in connection.execute(
            "SELECT c.chunk_id, c.start, c.end, c.text, d.text FROM chunks c JOIN documents d "
            "USING (doc_id)"):
        assert doc_text[start:end] == text
    with pytest.raises(sqlite3.OperationalError):
        connection.execute("DELETE FROM documents")  # read-only


def test_faiss_vectors_are_keyed_by_chunk_id(small_index):
    connection = connect_readonly(small_index / DATABASE)
    index = load_vector_index(small_index / vectors_file("base"))
    chunk_ids = [row[0] for row in connection.execute("SELECT chunk_id FROM chunks")]
    assert index.ntotal == len(chunk_ids)
    vector = index.reconstruct(chunk_ids[-1])
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    _, ids = index.search(vector[None, :], 1)
    assert ids[0, 0] == chunk_ids[-1]


INFO = EmbeddingInfo(model="test", dimension=4, include_title=True, max_seq_length=8)


def tiny_inputs(text="alpha beta", chunk_ids=(0,)):
    documents = [Document("a", "A", text)]
    chunks = [Chunk(0, "a", 0, 0, len(text), text)]
    vectors = EmbeddingSet(np.eye(1, 4, dtype=np.float32), np.array(chunk_ids), INFO)
    return documents, chunks, {"base": vectors}


def test_failed_rebuild_leaves_the_previous_index(tmp_path):
    folder = tmp_path / "index"
    documents, chunks, embeddings = tiny_inputs()
    build_index(folder, documents, chunks, embeddings, PARAMS.build_db)
    before = (folder / DATABASE).read_bytes()
    with pytest.raises(ValueError, match="'base' embeddings do not match the chunks"):
        build_index(folder, documents, chunks, tiny_inputs(chunk_ids=(7,))[2], PARAMS.build_db)
    orphan = [Chunk(0, "zzz", 0, 0, 5, "alpha")]
    with pytest.raises(ValueError, match="names document 'zzz'"):
        build_index(folder, documents, orphan, embeddings, PARAMS.build_db)
    assert (folder / DATABASE).read_bytes() == before
    assert read_manifest(folder)["chunks"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]


def test_manifest_of_another_format_is_refused(tmp_path):
    folder = tmp_path / "index"
    build_index(folder, *tiny_inputs(), PARAMS.build_db)
    manifest = folder / "manifest.json"
    manifest.write_text(manifest.read_text().replace("\"format_version\": 2", "\"format_version\": 99"))
    with pytest.raises(ValueError, match="index format 99"):
        read_manifest(folder)


def test_several_embedding_sets_share_one_index(tmp_path):
    documents, chunks, embeddings = tiny_inputs()
    other = EmbeddingInfo(model="tuned", dimension=4, include_title=True, max_seq_length=8)
    embeddings["finetuned"] = EmbeddingSet(np.eye(1, 4, k=1, dtype=np.float32), np.array([0]), other)
    manifest = build_index(tmp_path / "index", documents, chunks, embeddings, PARAMS.build_db)
    assert sorted(manifest["embeddings"]) == ["base", "finetuned"]
    assert embedding_info(manifest, "finetuned").model == "tuned"
    assert (tmp_path / "index" / vectors_file("finetuned")).is_file()
    with pytest.raises(ValueError, match=r"no 'large' embeddings; it has \['base', 'finetuned'\]"):
        embedding_info(manifest, "large")


def test_a_local_encoder_travels_inside_the_index(tmp_path):
    """A fine-tuned model folder is copied into the index, so any revision's index can encode
    queries; package models stay referenced by name."""
    model = tmp_path / "tuned-model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x00\x01")
    (model / "checkpoint-5").mkdir()  # training leftovers stay behind
    documents, chunks, embeddings = tiny_inputs()
    info = EmbeddingInfo(model=str(model), dimension=4, include_title=True, max_seq_length=8)
    embeddings["finetuned"] = EmbeddingSet(np.eye(1, 4, dtype=np.float32), np.array([0]), info)
    folder = tmp_path / "index"
    manifest = build_index(folder, documents, chunks, embeddings, PARAMS.build_db)
    assert "bundled" not in manifest["embeddings"]["base"]
    entry = manifest["embeddings"]["finetuned"]
    assert entry["bundled"] == "encoders/finetuned"
    assert (folder / "encoders/finetuned/weights.bin").read_bytes() == b"\x00\x01"
    assert not (folder / "encoders/finetuned/checkpoint-5").exists()
    assert embedding_info(manifest, "finetuned", folder).model == str(folder / "encoders/finetuned")
    assert embedding_info(manifest, "finetuned").model == str(model)
    (model / "weights.bin").write_bytes(b"\x00\x02")
    rebuilt = build_index(tmp_path / "other", documents, chunks, embeddings, PARAMS.build_db)
    assert rebuilt["embeddings"]["finetuned"]["bundled_sha256"] != entry["bundled_sha256"]


def test_an_index_built_before_languages_and_files_still_reads():
    old = sqlite3.connect(":memory:")
    old.row_factory = sqlite3.Row
    old.executescript("""
        CREATE TABLE documents (doc_id TEXT, title TEXT, text TEXT, author TEXT, year INTEGER, topic TEXT);
        CREATE TABLE document_keywords (doc_id TEXT, keyword TEXT);
        CREATE TABLE chunks (chunk_id INTEGER, doc_id TEXT, position INTEGER, start INTEGER,
                             end INTEGER, text TEXT);
        INSERT INTO documents VALUES ('a', 'A', 'alpha beta', 'Ada', 1843, 'math');
        INSERT INTO chunks VALUES (0, 'a', 0, 0, 10, 'alpha beta');""")
    assert fetch_documents(old, ["a"])["a"] == Document("a", "A", "alpha beta", "Ada", 1843, (), "math")
    assert fetch_chunks(old, [0])[0].page is None and fetch_chunks(old, [0])[0].section is None


def test_a_chunk_keeps_its_section_and_keyword_search_reads_it_as_title(tmp_path):
    documents = [Document("g", "Glaciers", "Ice moves. It slides on meltwater.",
                          sections=((11, "Flow"),))]
    chunks = [Chunk(0, "g", 0, 0, 10, "Ice moves."),
              Chunk(1, "g", 1, 11, 34, "It slides on meltwater.", section="Flow")]
    info = EmbeddingInfo(model="m", dimension=2, include_title=True, max_seq_length=8,
                         backend="torch")
    embeddings = {"base": EmbeddingSet(np.eye(2, dtype=np.float32), np.array([0, 1]), info)}
    build_index(tmp_path / "index", documents, chunks, embeddings, PARAMS.build_db)
    connection = connect_readonly(tmp_path / "index" / DATABASE)
    assert fetch_chunks(connection, [0, 1]) == {0: chunks[0], 1: chunks[1]}
    matched = connection.execute("SELECT rowid, title FROM chunks_fts WHERE chunks_fts MATCH "
                                 "'title:flow'").fetchall()
    assert [tuple(row) for row in matched] == [(1, "Glaciers › Flow")]
