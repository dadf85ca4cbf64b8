import sqlite3

import pytest

from hybridrag.search.fts_query import fts_match_expression, query_terms


def test_terms_are_lowercased_deduplicated_and_stopwords_dropped():
    assert query_terms("The cat and THE Cat sat") == ["cat", "sat"]


def test_all_stopword_query_keeps_its_words():
    assert query_terms("The Who") == ["the", "who"]


def test_underscores_and_punctuation_split_words_like_fts5():
    assert query_terms("snake_case: x-ray!") == ["snake", "case", "x", "ray"]


HOSTILE = ['"unbalanced', 'a NEAR b', 'title:foo', '-minus', 'foo*', '(paren', 'AND OR NOT',
           "^caret", "a''b", '"""', "NEAR(a b, 2)", "col : val", "\u00e9t\u00e9 caf\u00e9", ""]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_never_breaks_fts5(text):
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE t USING fts5(title, body)")
    connection.execute("INSERT INTO t VALUES ('foo near', 'and or not minus caf\u00e9')")
    terms = query_terms(text)
    if terms:
        connection.execute("SELECT * FROM t WHERE t MATCH ?", (fts_match_expression(terms),)).fetchall()


def test_expression_quotes_each_term():
    assert fts_match_expression(["near", "and"]) == '"near" OR "and"'
