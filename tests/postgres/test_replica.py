"""Reads from a streaming replica: with a multi-host read DSN (libpq target_session_attrs) the
backend's connections land on the standby and answer as the primary does; with the replica
gone, a new store falls back to the primary."""

from contextlib import closing

import pytest

from hybridrag.backends import open_store
from hybridrag.postgres.backend import READ_DSN_VARIABLE
from hybridrag.search.hybrid import combine
from support.postgres_server import local_replica, wait_for_replay

from ..conftest import FUSION, POSTGRES_STORE, RETRIEVAL
from .test_store import QUERIES


def read_dsn(*servers) -> str:
    hosts = ",".join("127.0.0.1" for _ in servers)
    ports = ",".join(str(server.port) for server in servers)
    return (f"host={hosts} port={ports} dbname=hybridrag user=postgres "
            "target_session_attrs=prefer-standby")


def servers_of(store) -> set[tuple[bool, int]]:
    """(in recovery, port) of every connection the store's pool holds."""
    seen = set()
    connections = [store.pool.getconn() for _ in range(store.pool.max_size)]
    try:
        for connection in connections:
            seen.add(connection.execute("SELECT pg_is_in_recovery(), inet_server_port()").fetchone())
    finally:
        for connection in connections:
            store.pool.putconn(connection)
    return seen


def hybrid(store, query, vector):
    return [(h.doc_id, round(h.score, 6)) for h in combine(
        store.keyword.search(query, 20), store.dense.search(vector[None, :], 20)[0], "hybrid",
        FUSION, 10)]


@pytest.fixture(scope="module")
def vectors(small_index):
    from ..conftest import open_searcher

    with open_searcher(small_index) as searcher:
        return searcher.encode_queries(QUERIES)


def test_searches_read_from_the_replica_and_fall_back_to_the_primary(
        postgres, published_small_index, vectors, monkeypatch):
    with closing(open_store(POSTGRES_STORE, published_small_index, RETRIEVAL)) as primary_store:
        expected = [hybrid(primary_store, q, v) for q, v in zip(QUERIES, vectors, strict=True)]
    with local_replica(postgres) as replica:
        wait_for_replay(postgres, replica)
        monkeypatch.setenv(READ_DSN_VARIABLE, read_dsn(postgres, replica))
        with closing(open_store(POSTGRES_STORE, published_small_index, RETRIEVAL,
                                connections=3)) as store:
            assert servers_of(store) == {(True, replica.port)}
            assert [hybrid(store, q, v) for q, v in zip(QUERIES, vectors, strict=True)] == expected
    with closing(open_store(POSTGRES_STORE, published_small_index, RETRIEVAL,
                            connections=2)) as store:
        assert servers_of(store) == {(False, postgres.port)}
