"""Stage publish_postgres: load the built index into its own PostgreSQL schema and serve it.

Runs only with store.backend: postgres (the write connection in $HYBRIDRAG_POSTGRES_DSN);
with sqlite it records that there is nothing to publish. The record names the schema that
eval_retrieval and the service then read; timings go to the log, so that republishing the
same index changes nothing downstream.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hybridrag.config import load_params
from hybridrag.reporting import write_json
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--index", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    params = load_params(args.params)
    record: dict[str, object] = {"backend": params.store.backend}
    if params.store.backend == "postgres":
        from hybridrag.postgres.publish import describe, publish_index

        started = time.perf_counter()
        try:
            published = publish_index(Path(args.index), params)
        except RuntimeError as error:
            sys.exit(f"error: {error}")
        print(f"publish_postgres: {describe(Path(args.index), published)} "
              f"in {time.perf_counter() - started:.1f} s")
        record |= {"schema": published.schema, "data_hash": published.data_hash,
                   "served_name": params.store.served_name}
    else:
        print("publish_postgres: store.backend is sqlite; nothing to publish")
    write_json(Path(args.out), record)


if __name__ == "__main__":
    run(main)
