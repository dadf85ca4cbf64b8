"""The service over PostgreSQL follows the workspace index across a rebuild: while the new
version is not yet published it keeps answering from the old schema (no failed request), then
switches once publish_postgres has loaded it."""

import shutil
import threading

import psycopg

from hybridrag.atomic import atomic_directory
from hybridrag.dvc_hash import dvc_directory_hash
from hybridrag.postgres.publish import publish, schema_for
from hybridrag.service.state import IndexHolder, ServiceConfig
from support.waiting import wait_for

from ..conftest import FUSION, PARAMS, POSTGRES_STORE, RETRIEVAL
from .conftest import WEIGHTS


def test_the_service_waits_for_the_publish_then_swaps(postgres, published_small_index, tmp_path):
    served_dir = tmp_path / "index"
    shutil.copytree(published_small_index, served_dir)  # same contents: already published
    holder = IndexHolder(ServiceConfig(RETRIEVAL, FUSION, PARAMS.answers, POSTGRES_STORE,
                                       index_dir=served_dir, repo=tmp_path, watch_seconds=0.1,
                                       device="cpu", connections=2, retire_seconds=0.5))
    first = holder.load()
    old_hash = first.version.data_hash
    assert first.searcher.store.name == f"postgres:{schema_for(old_hash)}"
    attempts = []  # the watcher's reloads: each retries while the new version is not published
    load = holder.load

    def counted_load(revision=None):
        attempts.append(revision)
        return load(revision)

    holder.load = counted_load
    holder.start_watching()
    answers, failures, stop = [], [], threading.Event()

    def client():
        while not stop.is_set():
            try:
                served = holder.current
                answers.append((served.version.data_hash,
                                served.searcher.search("radium decay", k=3)[0].doc_id))
            except Exception as error:  # noqa: BLE001 - any failure is what the test counts
                failures.append(repr(error))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        with atomic_directory(served_dir) as staging:  # what build_db does on `dvc repro`
            shutil.copytree(published_small_index, staging, dirs_exist_ok=True)
            (staging / "rebuilt.txt").write_text("a new version")
        new_hash = dvc_directory_hash(served_dir)
        wait_for(lambda: (holder.last_error or "").startswith("waiting"), what="the first retry")
        waiting_since = len(attempts)
        wait_for(lambda: len(attempts) >= waiting_since + 3, what="three more polls")
        assert holder.current.version.data_hash == old_hash  # still the old version
        with psycopg.connect(postgres.dsn, autocommit=True) as connection:
            publish(connection, served_dir, WEIGHTS, PARAMS.build_db.hnsw_m,
                    PARAMS.build_db.hnsw_ef_construction, grace_seconds=3600)
        wait_for(lambda: holder.current.version.data_hash == new_hash, what="the swap")
        assert holder.current.searcher.store.name == f"postgres:{schema_for(new_hash)}"
        assert holder.last_error is None
        answered = len(answers)
        wait_for(lambda: len(answers) > answered + 20, what="answers from the new version")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        holder.stop()
    assert failures == []
    assert {h for h, _ in answers} == {old_hash, new_hash}
    wait_for(lambda: first.searcher.store.pool.closed, what="the replaced version's pool to close")
    assert {doc for _, doc in answers} <= {"d00", "d01"}
