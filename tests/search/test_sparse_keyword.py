"""The sparse keyword engine against its reference, FTS5's bm25() (KeywordRetriever): the same
documents, best chunks, order and scores, with filters and under other column weights."""

import logging
import shutil
import sqlite3

import numpy as np
import pytest

from hybridrag.index import BM25_COUNTS, DATABASE
from hybridrag.index.bm25 import TermCounts, term_counts
from hybridrag.index.database import ConnectionPool, fetch_chunk_documents
from hybridrag.search.filters import Filters
from hybridrag.search.fts_query import ENGLISH_STOPWORDS
from hybridrag.search.keyword import KeywordRetriever
from hybridrag.search.sparse_keyword import SparseKeywordRetriever
from hybridrag.search.store import keyword_retriever

from ..conftest import KEYWORD_QUERIES, PARAMS, RETRIEVAL, ROOT
from .test_fts_query import HOSTILE

FILTERS = [Filters(topic="physics"), Filters(year_min=1905, year_max=1915),
           Filters(author="Turing", keywords=("k1",)), Filters(topic="no such topic")]
COLUMN_WEIGHTS = [(2.0, 1.0), (1.0, 1.0), (3.5, 0.25)]


def engines(index, weights):
    pool = ConnectionPool(index / DATABASE, 2)
    with pool.connection() as connection:
        chunk_doc = fetch_chunk_documents(connection)
    counts = TermCounts.load(index / BM25_COUNTS)
    return (KeywordRetriever(pool, *weights, ENGLISH_STOPWORDS),
            SparseKeywordRetriever(counts, pool, chunk_doc, *weights, ENGLISH_STOPWORDS))


def assert_same_hits(expected, got):
    assert [(h.doc_id, h.chunk_id, h.rank) for h in got] == \
        [(h.doc_id, h.chunk_id, h.rank) for h in expected]
    assert [h.score for h in got] == pytest.approx([h.score for h in expected], rel=1e-9)


@pytest.mark.parametrize("weights", COLUMN_WEIGHTS)
@pytest.mark.parametrize("query", [*KEYWORD_QUERIES, *HOSTILE, "Beethoven Beethoven's"])
def test_sparse_ranks_as_fts5(small_index, weights, query):
    fts5, sparse = engines(small_index, weights)
    for depth in (1, 3, 100):
        assert_same_hits(fts5.search(query, depth), sparse.search(query, depth))


@pytest.mark.parametrize("filters", FILTERS)
def test_sparse_filters_as_fts5(small_index, filters):
    fts5, sparse = engines(small_index, COLUMN_WEIGHTS[0])
    for query in ("radium decay essay", "Item 7", "Beethoven jazz Curie"):
        assert_same_hits(fts5.search(query, 10, filters), sparse.search(query, 10, filters))


def test_ties_break_by_document_id_descending(small_index):
    # d00 and d01 differ only in the (equally long) author name: the same score
    _, sparse = engines(small_index, COLUMN_WEIGHTS[0])
    hits = sparse.search("radium decay", 2)
    assert [h.doc_id for h in hits] == ["d01", "d00"] and hits[0].score == hits[1].score


def test_counts_are_fts5s_own(small_index):
    """Per term, its chunks and hits as FTS5's fts5vocab instance table lists them."""
    counts = TermCounts.load(small_index / BM25_COUNTS)
    connection = sqlite3.connect(small_index / DATABASE)
    connection.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, chunks_fts, instance)")
    for term in ("radium", "beethoven", "item", "7"):
        t = counts.terms.index(term)
        span = slice(counts.starts[t], counts.starts[t + 1])
        got = {(int(c), int(a), int(b)) for c, a, b in zip(
            counts.posting_chunks[span], counts.title_hits[span], counts.text_hits[span],
            strict=True)}
        expected = {(c, int(a), int(b)) for c, a, b in connection.execute(
            "SELECT doc, sum(col = 'title'), sum(col = 'text') FROM temp.v WHERE term = ? "
            "GROUP BY doc", [term])}
        assert got == expected and counts.rows_with_term[t] == len(expected)
    lengths = dict(zip(counts.chunk_ids.tolist(), counts.chunk_lengths.tolist(), strict=True))
    assert lengths == dict(connection.execute("SELECT doc, count(*) FROM temp.v GROUP BY doc"))


def test_saved_counts_load_memory_mapped_and_equal(small_index, tmp_path):
    with sqlite3.connect(small_index / DATABASE) as connection:
        counts = term_counts(connection, "porter unicode61 remove_diacritics 2")
    counts.save(tmp_path / "bm25")
    loaded = TermCounts.load(tmp_path / "bm25")
    assert isinstance(loaded.posting_chunks, np.memmap)
    assert loaded.terms == counts.terms and loaded.rows == counts.rows
    assert all(np.array_equal(getattr(loaded, name), getattr(counts, name))
               for name in ("starts", "posting_chunks", "title_hits", "text_hits", "chunk_lengths"))


def test_an_index_without_counts_searches_with_fts5_and_says_so(small_index, tmp_path, caplog):
    old = tmp_path / "old"
    shutil.copytree(small_index, old, ignore=shutil.ignore_patterns(BM25_COUNTS))
    pool = ConnectionPool(old / DATABASE)
    with caplog.at_level(logging.WARNING, logger="hybridrag.search"):
        retriever = keyword_retriever(old, pool, {}, RETRIEVAL, ENGLISH_STOPWORDS)
    assert isinstance(retriever, KeywordRetriever)
    assert "rebuild the index" in caplog.text


def test_fts5_engine_is_chosen_by_the_param(small_index):
    pool = ConnectionPool(small_index / DATABASE)
    fts5 = keyword_retriever(small_index, pool, {}, RETRIEVAL.updated(keyword_engine="fts5"),
                             ENGLISH_STOPWORDS)
    assert isinstance(fts5, KeywordRetriever)


def test_counts_of_another_index_are_refused(small_index):
    pool = ConnectionPool(small_index / DATABASE)
    with pool.connection() as connection:
        chunk_doc = fetch_chunk_documents(connection)
    fewer = dict(list(chunk_doc.items())[:5])
    with pytest.raises(ValueError, match="rebuild the index"):
        SparseKeywordRetriever(TermCounts.load(small_index / BM25_COUNTS), pool, fewer)


SCIFACT = ROOT.parent / "shared" / "benchmarks" / "scifact"


@pytest.mark.slow
@pytest.mark.skipif(not (SCIFACT / "corpus.jsonl").is_file(),
                    reason=f"SciFact not found at {SCIFACT} (../shared/benchmarks)")
def test_sparse_ranks_as_fts5_on_every_scifact_query(tmp_path):
    """The real corpus: 5,183 abstracts chunked as the pipeline does, all 1,109 queries, the
    top 100 documents of each engine (measured: identical, scores to 4e-16 relative)."""
    from hybridrag.chunking import chunk_documents
    from hybridrag.embedding_store import EmbeddingInfo, EmbeddingSet
    from hybridrag.index import build_index
    from hybridrag.ingest.beir import read_beir

    data = read_beir(SCIFACT)
    chunks = list(chunk_documents(data.documents, PARAMS.chunk.size, PARAMS.chunk.overlap))
    ids = np.array([c.chunk_id for c in chunks])
    no_vectors = EmbeddingSet(np.zeros((len(ids), 4), np.float32), ids,
                              EmbeddingInfo("none", 4, True, 4))  # keyword search only
    build_index(tmp_path / "index", data.documents, chunks, {"base": no_vectors},
                PARAMS.build_db.updated(faiss_index="flat"))
    fts5, sparse = engines(tmp_path / "index", (RETRIEVAL.bm25_title_weight,
                                                RETRIEVAL.bm25_text_weight))
    assert len(data.queries) == 1109
    for query in data.queries:
        assert_same_hits(fts5.search(query.text, 100), sparse.search(query.text, 100))
