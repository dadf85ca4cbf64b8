"""The index loaded into a real PostgreSQL: dense results equal FAISS flat's with an exact scan
(HNSW's recall measured), and metadata filters select what they select in SQLite, for both
retrievers."""

import pytest

from hybridrag.index import DATABASE
from hybridrag.index.database import ConnectionPool
from hybridrag.postgres.store import (
    PostgresDenseRetriever,
    PostgresKeywordRetriever,
    filter_condition,
)
from hybridrag.search.filters import Filters, parse_filters
from hybridrag.search.fts_query import ENGLISH_STOPWORDS
from hybridrag.search.keyword import KeywordRetriever

from ..conftest import open_searcher
from .conftest import WEIGHTS

QUERIES = ["radioactive elements", "music of the eighteenth century", "how plants use light",
           "an essay by Alan Turing", "heat engines"]
FILTERS = [[], ["year=1905..1915"], ["language=FR"], ["author=curie"], ["keyword=Physics"],
           ["author=MARIE C"], ["topic=Music"],
           ["file_type=pdf", "author=Turing"], ["topic=biology", "year=..1910"],
           ["keyword=k1", "keyword=music"], ["year=2050"]]


def test_rows_loaded(loaded, small_index):
    connection, schema = loaded
    pool = ConnectionPool(small_index / DATABASE)
    with pool.connection() as sqlite:
        for table in ("documents", "chunks"):
            expected = sqlite.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            assert connection.execute(f"SELECT count(*) FROM {schema}.{table}").fetchone()[0] == expected
    assert connection.execute(f"SELECT count(*) FROM {schema}.vectors_base").fetchone()[0] == expected


def test_filter_condition_is_the_embedded_sql_with_psycopg_placeholders():
    condition, params = filter_condition(parse_filters(["author=50%_x", "year=1990..", "keyword=a"]))
    assert condition == ("d.author LIKE %s ESCAPE '\\' AND d.year >= %s AND EXISTS (SELECT 1 "
                         "FROM document_keywords k WHERE k.doc_id = d.doc_id AND k.keyword = %s)")
    assert params == ["%50\\%\\_x%", 1990, "a"]
    assert filter_condition(Filters()) == ("TRUE", []) == filter_condition(None)


@pytest.fixture(scope="module")
def searcher(small_index):
    with open_searcher(small_index) as searcher:
        yield searcher


@pytest.mark.parametrize("specs", FILTERS, ids=lambda specs: ",".join(specs) or "none")
def test_exact_dense_equals_faiss_flat(loaded, pool, searcher, specs):
    _, schema = loaded
    filters = parse_filters(specs)
    vectors = searcher.encode_queries(QUERIES)
    postgres = PostgresDenseRetriever(pool, schema, "base", ef_search=128, exact=True)
    for vector, expected, got in zip(vectors, searcher.dense.search(vectors, 10, filters),
                                     postgres.search(vectors, 10, filters), strict=True):
        assert [h.doc_id for h in got] == [h.doc_id for h in expected]
        assert [h.score for h in got] == pytest.approx([h.score for h in expected], abs=1e-6)
        # the best chunk may be another one with the same text (the same vector): same score
        chunk_scores = [float(searcher.dense.index.reconstruct(h.chunk_id) @ vector) for h in got]
        assert chunk_scores == pytest.approx([h.score for h in expected], abs=1e-6)


def test_hnsw_finds_what_the_exact_scan_finds_on_the_small_index(loaded, pool, searcher):
    _, schema = loaded
    vectors = searcher.encode_queries(QUERIES)
    exact = PostgresDenseRetriever(pool, schema, "base", ef_search=128, exact=True)
    hnsw = PostgresDenseRetriever(pool, schema, "base", ef_search=128, exact=False)
    for want, got in zip(exact.search(vectors, 10), hnsw.search(vectors, 10), strict=True):
        assert {h.doc_id for h in got} == {h.doc_id for h in want}


@pytest.mark.parametrize("specs", FILTERS, ids=lambda specs: ",".join(specs) or "none")
def test_filtered_keyword_search_equals_sqlite(loaded, pool, small_index, specs):
    _, schema = loaded
    filters = parse_filters(specs)
    sqlite = KeywordRetriever(ConnectionPool(small_index / DATABASE), *WEIGHTS, ENGLISH_STOPWORDS)
    postgres = PostgresKeywordRetriever(pool, schema, ENGLISH_STOPWORDS, WEIGHTS)
    for query in QUERIES:
        expected, got = sqlite.search(query, 10, filters), postgres.search(query, 10, filters)
        assert [(h.doc_id, h.chunk_id) for h in got] == [(h.doc_id, h.chunk_id) for h in expected]
        assert [h.score for h in got] == pytest.approx([h.score for h in expected], rel=1e-6)
