"""Versioned publishing into a real PostgreSQL: a schema per index version, an atomic switch,
old versions dropped after their grace period, and a publish killed with SIGKILL mid-load
leaves the served version intact and no partial schema."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import psycopg
import pytest

from hybridrag.dvc_hash import dvc_directory_hash
from hybridrag.embedding_store import EmbeddingInfo, EmbeddingSet
from hybridrag.index import build_index
from hybridrag.postgres.publish import DSN_VARIABLE, publish, schema_for, served_schema
from hybridrag.records import Chunk, Document

from ..conftest import PARAMS, ROOT, build_small_index, make_documents
from .conftest import WEIGHTS

HNSW = (PARAMS.build_db.hnsw_m, PARAMS.build_db.hnsw_ef_construction)


def random_index(folder, chunks: int, seed: int):
    """An index of `chunks` one-chunk documents with random unit vectors (no model needed)."""
    rng = np.random.default_rng(seed)
    words = np.array("tide glacier river delta canyon basalt quartz dune fjord marsh".split())
    documents, rows = [], []
    for i in range(chunks):
        text = " ".join(rng.choice(words, 30))
        documents.append(Document(doc_id=f"r{i}", title=f"R {i}", text=text))
        rows.append(Chunk(chunk_id=i, doc_id=f"r{i}", position=0, start=0, end=len(text), text=text))
    vectors = rng.normal(size=(chunks, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    info = EmbeddingInfo(model="random", dimension=16, include_title=True, max_seq_length=8)
    build_index(folder, documents, rows, {"base": EmbeddingSet(vectors, np.arange(chunks), info)},
                PARAMS.build_db)
    return folder


@pytest.fixture
def database(postgres):
    """A fresh database per test, so publishes do not see each other."""
    name = f"publish_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(postgres.dsn, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    dsn = postgres.dsn.replace("dbname=hybridrag", f"dbname={name}")
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        yield dsn, connection


def schemas(connection):
    return {row[0] for row in connection.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'index\\_%'")}


def test_publish_switches_versions_and_drops_the_old_after_grace(database, small_index, encoder,
                                                                   tmp_path):
    _, connection = database
    first = publish(connection, small_index, WEIGHTS, *HNSW, grace_seconds=3600)
    assert first.schema == schema_for(dvc_directory_hash(small_index)) and first.loaded
    assert served_schema(connection) == first.schema
    assert not publish(connection, small_index, WEIGHTS, *HNSW, grace_seconds=3600).loaded
    other = build_small_index(tmp_path / "other", make_documents()[:6], encoder)
    assert other["documents"] == 6
    second = publish(connection, tmp_path / "other", WEIGHTS, *HNSW, grace_seconds=3600)
    assert served_schema(connection) == second.schema != first.schema
    assert schemas(connection) == {first.schema, second.schema}  # within its grace period
    third = publish(connection, tmp_path / "other", WEIGHTS, *HNSW, grace_seconds=0)
    assert third.dropped == (first.schema,) and schemas(connection) == {second.schema}
    count = connection.execute(f"SELECT count(*) FROM {second.schema}.documents").fetchone()[0]
    assert count == 6


def test_a_publish_killed_mid_load_leaves_the_served_version(database, small_index, tmp_path):
    dsn, connection = database
    served = publish(connection, small_index, WEIGHTS, *HNSW, grace_seconds=3600).schema
    big = random_index(tmp_path / "big", 30_000, seed=1)
    env = {**os.environ, DSN_VARIABLE: dsn, "PGAPPNAME": "killed-publish"}
    process = subprocess.Popen([sys.executable, "-m", "hybridrag.postgres.publish", "--index",
                                str(big), "--params", str(ROOT / "params.yaml")], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline, loading = time.monotonic() + 120, 0
    while not loading and time.monotonic() < deadline and process.poll() is None:
        loading = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'killed-publish' "
            "AND state = 'active' AND query ILIKE 'COPY%'").fetchone()[0]
        time.sleep(0.05)
    assert loading and process.poll() is None, f"not killed mid-load: {process.stdout.read()}"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 30  # the server rolls the load back once it sees the client gone
    while time.monotonic() < deadline and connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'killed-publish'"
    ).fetchone()[0]:
        time.sleep(0.1)
    assert served_schema(connection) == served
    assert schemas(connection) == {served}
    assert connection.execute(f"SELECT count(*) FROM {served}.chunks").fetchone()[0] > 0


def test_publish_without_a_connection_string_says_which_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != DSN_VARIABLE}
    result = subprocess.run([sys.executable, "-m", "hybridrag.postgres.publish", "--index",
                             str(tmp_path)], env=env, capture_output=True, text=True)
    assert result.returncode == 2 and DSN_VARIABLE in result.stderr
