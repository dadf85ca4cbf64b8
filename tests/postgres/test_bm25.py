"""PostgreSQL ranks keyword queries as the SQLite retriever does (BM25 as sparse vectors)."""

import pytest

from hybridrag.index import DATABASE
from hybridrag.index.database import ConnectionPool
from hybridrag.postgres.store import PostgresKeywordRetriever, checked_schema, sparse_literal
from hybridrag.search.fts_query import ENGLISH_STOPWORDS
from hybridrag.search.keyword import KeywordRetriever

from ..conftest import KEYWORD_QUERIES as QUERIES
from .conftest import WEIGHTS


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
