"""BM25 as sparse vectors equals SQLite FTS5's bm25(): per chunk in Python, and ranked by a real
PostgreSQL server against the SQLite retriever."""

import sqlite3

import pytest

from hybridrag.index import DATABASE
from hybridrag.index.database import FTS_TABLE, ConnectionPool
from hybridrag.postgres.bm25 import QueryTokenizer, chunk_weights, query_weights
from hybridrag.postgres.store import PostgresKeywordRetriever, checked_schema, sparse_literal
from hybridrag.search.fts_query import ENGLISH_STOPWORDS, fts_match_expression, query_terms
from hybridrag.search.keyword import KeywordRetriever

from .conftest import WEIGHTS

QUERIES = ["radium decay", "Beethoven symphonies", "the essay by Marie Curie on jazz",
           "berry tomato edible", "evolution natural selection Turing", "Item 7", "running runs",
           "no such word zyxwv"]


@pytest.mark.parametrize("query", QUERIES)
def test_dot_product_equals_fts5_bm25_for_every_matching_chunk(small_index, query):
    connection = sqlite3.connect(small_index / DATABASE)
    statistics, weights = chunk_weights(connection, "porter unicode61 remove_diacritics 2", WEIGHTS)
    terms = query_terms(query, ENGLISH_STOPWORDS)
    expected = dict(connection.execute(
        f"SELECT rowid, -bm25({FTS_TABLE}, ?, ?) FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?",
        [*WEIGHTS, fts_match_expression(terms)]).fetchall())
    idf = query_weights(terms, statistics, QueryTokenizer(statistics.tokenizer))
    computed = {chunk: sum(w * idf.get(term, 0.0) for term, w in terms_of.items())
                for chunk, terms_of in weights.items() if set(terms_of) & set(idf)}
    assert computed.keys() == expected.keys()
    for chunk, score in expected.items():
        assert computed[chunk] == pytest.approx(score, rel=1e-9, abs=1e-12)


def test_query_tokens_are_fts5s_porter_stems():
    tokenizer = QueryTokenizer("porter unicode61 remove_diacritics 2")
    assert tokenizer.tokens("Running") == ["run"]
    assert tokenizer.tokens("Café") == ["cafe"]


def test_sparse_literal_is_one_based():
    assert sparse_literal({0: 1.5, 2: 0.25}, 3) == "{1:1.5,3:0.25}/3"


def test_schema_names_are_plain_identifiers():
    assert checked_schema("index_ab12") == "index_ab12"
    with pytest.raises(ValueError, match="schema name"):
        checked_schema("x; DROP TABLE documents")


@pytest.mark.parametrize("query", QUERIES)
def test_postgres_ranks_documents_as_sqlite_does(loaded, pool, small_index, query):
    _, schema = loaded
    sqlite = KeywordRetriever(ConnectionPool(small_index / DATABASE), *WEIGHTS, ENGLISH_STOPWORDS)
    postgres = PostgresKeywordRetriever(pool, schema, ENGLISH_STOPWORDS, WEIGHTS)
    expected, got = sqlite.search(query, 10), postgres.search(query, 10)
    assert [(h.doc_id, h.chunk_id) for h in got] == [(h.doc_id, h.chunk_id) for h in expected]
    assert [h.score for h in got] == pytest.approx([h.score for h in expected], rel=1e-6)


def test_other_column_weights_are_refused(loaded, pool):
    _, schema = loaded
    with pytest.raises(ValueError, match="load the index again"):
        PostgresKeywordRetriever(pool, schema, ENGLISH_STOPWORDS, (1.0, 1.0))
