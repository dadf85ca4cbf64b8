"""Versioned publishing of a built index into PostgreSQL: each index version gets its own schema,
named by the index folder's DVC hash; a one-row switch says which schema is served; schemas
replaced longer ago than a grace period are dropped.

    HYBRIDRAG_POSTGRES_DSN="host=... dbname=..." python -m hybridrag.postgres.publish --index data/index

(the pipeline's publish_postgres stage does the same when params.yaml has store.backend: postgres).

The load is one transaction (PostgreSQL's DDL is transactional), so a publish that is killed
leaves no partial schema and the served one untouched; the switch is one UPDATE. The
connection string comes from the environment only and is never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hybridrag.config import Params, load_params
from hybridrag.dvc_hash import dvc_directory_hash
from hybridrag.layout import INDEX, PARAMS
from hybridrag.postgres.store import checked_schema, load_index

DSN_VARIABLE = "HYBRIDRAG_POSTGRES_DSN"  # the write connection (libpq key=value or URI)
REGISTRY = """
CREATE TABLE IF NOT EXISTS public.hybridrag_versions (
    schema_name TEXT PRIMARY KEY, data_hash TEXT NOT NULL,
    published_at TIMESTAMPTZ NOT NULL DEFAULT now(), replaced_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS public.hybridrag_served (
    name TEXT PRIMARY KEY, schema_name TEXT NOT NULL REFERENCES public.hybridrag_versions);
"""


def schema_for(data_hash: str) -> str:
    """The schema of an index version: `index_` and the first 16 hex digits of its DVC hash."""
    return checked_schema("index_" + data_hash.removesuffix(".dir")[:16])


@dataclass(frozen=True)
class Published:
    schema: str
    data_hash: str
    loaded: bool  # False when that version was already in the database
    dropped: tuple[str, ...]  # old schemas dropped after their grace period


def served_schema(connection, name: str = "default") -> str | None:
    """The schema `name` serves now (None before the first publish)."""
    exists = connection.execute("SELECT to_regclass('public.hybridrag_served')").fetchone()[0]
    if exists is None:
        return None
    row = connection.execute("SELECT schema_name FROM public.hybridrag_served WHERE name = %s",
                             (name,)).fetchone()
    return row[0] if row else None


def publish(connection, folder: Path, column_weights: tuple[float, float], hnsw_m: int,
            hnsw_ef_construction: int, grace_seconds: float, name: str = "default") -> Published:
    """Load `folder` into its version's schema (unless there already), serve it under `name`,
    and drop versions replaced more than `grace_seconds` ago (never the served one)."""
    data_hash = dvc_directory_hash(folder)
    schema = schema_for(data_hash)
    connection.execute(REGISTRY)
    known = connection.execute("SELECT 1 FROM public.hybridrag_versions WHERE schema_name = %s",
                               (schema,)).fetchone()
    if not known:
        with connection.transaction():
            load_index(connection, folder, schema, column_weights, hnsw_m, hnsw_ef_construction)
            connection.execute("INSERT INTO public.hybridrag_versions (schema_name, data_hash) "
                               "VALUES (%s, %s)", (schema, data_hash))
    with connection.transaction():
        previous = served_schema(connection, name)
        connection.execute("INSERT INTO public.hybridrag_served VALUES (%s, %s) ON CONFLICT (name) "
                           "DO UPDATE SET schema_name = excluded.schema_name", (name, schema))
        connection.execute("UPDATE public.hybridrag_versions SET replaced_at = NULL "
                           "WHERE schema_name = %s", (schema,))
        if previous and previous != schema:
            connection.execute("UPDATE public.hybridrag_versions SET replaced_at = now() "
                               "WHERE schema_name = %s", (previous,))
    return Published(schema, data_hash, not known, drop_expired(connection, grace_seconds))


def drop_expired(connection, grace_seconds: float) -> tuple[str, ...]:
    """Drop the schemas replaced more than `grace_seconds` ago and not served under any name."""
    with connection.transaction():
        expired = [row[0] for row in connection.execute(
            "SELECT schema_name FROM public.hybridrag_versions WHERE replaced_at IS NOT NULL "
            "AND replaced_at < now() - make_interval(secs => %s) AND schema_name NOT IN "
            "(SELECT schema_name FROM public.hybridrag_served)", (grace_seconds,))]
        for schema in expired:
            connection.execute(f"DROP SCHEMA {checked_schema(schema)} CASCADE")
            connection.execute("DELETE FROM public.hybridrag_versions WHERE schema_name = %s",
                               (schema,))
    return tuple(expired)


def dsn_from_environment() -> str:
    """The write connection string (never logged)."""
    dsn = os.environ.get(DSN_VARIABLE)
    if not dsn:
        raise RuntimeError(f"publishing to PostgreSQL needs {DSN_VARIABLE}: set it to the "
                           "server's libpq connection string (\"host=... dbname=... user=...\")")
    return dsn


def publish_index(folder: Path, params: Params) -> Published:
    """Publish `folder` with the BM25 weights, HNSW settings and `store` section of `params`."""
    try:
        import psycopg
    except ImportError as error:
        raise ImportError("publishing to PostgreSQL needs psycopg: "
                          "pip install 'hybridrag[postgres]'") from error

    with psycopg.connect(dsn_from_environment(), autocommit=True) as connection:
        return publish(connection, folder,
                       (params.retrieval.bm25_title_weight, params.retrieval.bm25_text_weight),
                       params.build_db.hnsw_m, params.build_db.hnsw_ef_construction,
                       params.store.grace_seconds, params.store.served_name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path(INDEX))
    parser.add_argument("--params", type=Path, default=Path(PARAMS),
                        help="BM25 weights, HNSW settings, store.served_name and grace_seconds")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        result = publish_index(args.index, load_params(args.params))
    except RuntimeError as error:
        print(f"publish: {error}", file=sys.stderr)
        return 2
    print(f"publish: {describe(args.index, result)} in {time.perf_counter() - started:.1f} s")
    return 0


def describe(folder: Path, result: Published) -> str:
    return (f"{folder} ({result.data_hash}) {'loaded into' if result.loaded else 'already in'} "
            f"schema {result.schema}; dropped {len(result.dropped)} old version(s)")


if __name__ == "__main__":
    raise SystemExit(main())
