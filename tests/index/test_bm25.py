"""FTS5's bm25() as a dot product of precomputed chunk weights and query IDFs, per chunk."""

import sqlite3

import pytest

from hybridrag.index import DATABASE
from hybridrag.index.bm25 import QueryTokenizer, chunk_weights, query_weights
from hybridrag.index.database import FTS_TABLE
from hybridrag.search.fts_query import ENGLISH_STOPWORDS, fts_match_expression, query_terms

from ..conftest import KEYWORD_QUERIES as QUERIES
from ..conftest import RETRIEVAL

WEIGHTS = (RETRIEVAL.bm25_title_weight, RETRIEVAL.bm25_text_weight)


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
    assert tokenizer.tokens("Running") == ("run",)
    assert tokenizer.tokens("Café") == ("cafe",)


