"""A Searcher reading the published index from a real PostgreSQL answers as the one reading the
index folder: every mode, with and without filters, the lookups and snippets, under concurrent
callers; an unpublished index and a missing connection string are named."""

import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from hybridrag.backends import open_searcher, open_store
from hybridrag.postgres.backend import READ_DSN_VARIABLE
from hybridrag.postgres.publish import DSN_VARIABLE
from hybridrag.search.filters import parse_filters
from hybridrag.search.hybrid import MODES

from ..conftest import FUSION, POSTGRES_STORE, RETRIEVAL
from ..conftest import open_searcher as open_sqlite_searcher
from .test_store import FILTERS, QUERIES


@pytest.fixture(scope="module")
def searchers(published_small_index):
    with open_sqlite_searcher(published_small_index) as sqlite, \
            open_searcher(POSTGRES_STORE, published_small_index, RETRIEVAL, FUSION, connections=4,
                          device="cpu") as postgres:
        postgres.query_encoder = sqlite.query_encoder  # one model loaded, not two
        yield sqlite, postgres


def best_chunk_text(searcher, results):
    chunks = searcher.chunks([r.chunk_id for r in results])
    return [chunks[r.chunk_id].text for r in results]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("specs", FILTERS, ids=lambda specs: ",".join(specs) or "none")
def test_search_results_equal_across_backends(searchers, mode, specs):
    sqlite, postgres = searchers
    filters = parse_filters(specs)
    for query in QUERIES:
        expected = sqlite.search(query, k=10, mode=mode, filters=filters)
        got = postgres.search(query, k=10, mode=mode, filters=filters)
        assert [r.doc_id for r in got] == [r.doc_id for r in expected], query
        assert [r.score for r in got] == pytest.approx([r.score for r in expected], abs=1e-6)
        # chunks with the same text have the same vector: either may be a document's best
        assert best_chunk_text(postgres, got) == best_chunk_text(sqlite, expected)
        if mode == "bm25":
            assert [r.chunk_id for r in got] == [r.chunk_id for r in expected]


def test_lookups_and_snippets_equal_across_backends(searchers):
    sqlite, postgres = searchers
    doc_ids = [f"d{n:02d}" for n in range(24)]
    assert postgres.documents(doc_ids) == sqlite.documents(doc_ids)
    assert postgres.documents([]) == {} and postgres.documents(["missing"]) == {}
    chunk_ids = list(range(200))
    assert postgres.chunks(chunk_ids) == sqlite.chunks(chunk_ids)
    assert postgres.document_chunks("d05") == sqlite.document_chunks("d05")
    for query in QUERIES + ["physics of radium", "nothing matches xyzzy"]:
        results = sqlite.search(query, k=10)
        ids = [r.chunk_id for r in results]
        assert postgres.snippets(query, ids) == sqlite.snippets(query, ids)
        assert postgres.passages(results) == sqlite.passages(results)
    assert "<mark>" in postgres.snippets("radium decay", [sqlite.search("radium decay")[0].chunk_id]
                                         ).popitem()[1]


def test_concurrent_searches_answer_as_sequential_ones(searchers):
    _, postgres = searchers
    work = [(query, mode) for query in QUERIES for mode in MODES] * 4
    expected = [[r.doc_id for r in postgres.search(q, k=5, mode=m)] for q, m in work]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda item: [r.doc_id for r in postgres.search(
            item[0], k=5, mode=item[1])], work))
    assert got == expected


def test_an_unpublished_index_is_named(published_small_index, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(published_small_index, copy)
    (copy / "extra.txt").write_text("another version")  # another DVC hash: not published
    with pytest.raises(LookupError, match="publish_postgres"):
        open_store(POSTGRES_STORE, copy, RETRIEVAL)


def test_a_missing_connection_string_names_the_variables(small_index, monkeypatch):
    monkeypatch.delenv(DSN_VARIABLE, raising=False)
    monkeypatch.delenv(READ_DSN_VARIABLE, raising=False)
    with pytest.raises(LookupError, match=DSN_VARIABLE):
        open_store(POSTGRES_STORE, small_index, RETRIEVAL)


def test_the_cli_searches_either_backend_alike(published_small_index, tmp_path, capsys,
                                               monkeypatch):
    from hybridrag.cli import main

    from ..conftest import write_test_params

    params = str(write_test_params(tmp_path))
    outputs = {}
    for backend in ("sqlite", "postgres"):
        main(["search", "radium decay", "--index", str(published_small_index), "--params", params,
              "--device", "cpu", "--backend", backend, "--json", "-k", "5"])
        outputs[backend] = json.loads(capsys.readouterr().out)
    sqlite, postgres = outputs["sqlite"], outputs["postgres"]
    assert [h["doc_id"] for h in postgres] == [h["doc_id"] for h in sqlite]
    assert sqlite[0]["doc_id"] in {"d00", "d01"} and len(sqlite) == 5
    assert [h["score"] for h in postgres] == pytest.approx([h["score"] for h in sqlite], abs=1e-6)
    assert [h["snippet"] for h in postgres] == [h["snippet"] for h in sqlite]
    monkeypatch.delenv(DSN_VARIABLE)
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "radium", "--index", str(published_small_index), "--params", params,
              "--backend", "postgres"])
    assert exit_info.value.code == 2 and DSN_VARIABLE in capsys.readouterr().err


def test_an_unreachable_server_is_a_clear_error(small_index, monkeypatch):
    from support.ports import free_port

    monkeypatch.setenv(DSN_VARIABLE, f"host=127.0.0.1 port={free_port()} dbname=x user=x "
                                     "connect_timeout=1")
    monkeypatch.delenv(READ_DSN_VARIABLE, raising=False)
    with pytest.raises(LookupError, match="no PostgreSQL server answered") as error:
        open_store(POSTGRES_STORE, small_index, RETRIEVAL)
    assert "dbname=x" not in str(error.value)  # the connection string is never shown
