"""Where a search request's time goes: each part of /hybrid_search measured alone, in one run.

    python -m bench.service_profile              # after `make repro` built data/index

Parts, each the p50 over the held-out queries one at a time (milliseconds): query encoding (the
service's encoder thread), BM25, dense search, fusion, the result lookups (documents, chunks,
highlighted snippets), the response model and its JSON; then GET /health and the whole route
through the ASGI app (no client, no socket: parameters, dependencies, thread hand-off, the
response), again with the flat vector index searched directly instead of through the service's
half-precision scan (hybridrag.search.half_scan), and over loopback HTTP (uvicorn, the
benchmarks' keep-alive client). The service is built as `hybridrag serve` builds it (same
settings, the searcher its index holder loads).
Results: bench/results/service_profile.json and .md.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from hybridrag.atomic import atomic_write_text
from hybridrag.reporting import describe_machine, markdown_table, write_json
from hybridrag.search.half_scan import HalfPrecisionScan, scan_in_half_precision
from hybridrag.search.hybrid import combine
from hybridrag.search.results import search_hits
from hybridrag.service.app import create_app
from hybridrag.service.schemas import IndexInfo, SearchResponse
from hybridrag.service.settings import make_config
from support.benchmarks import workspace_parser, workspace_queries
from support.http_client import KeepAliveClient
from support.service_process import start_service, stop, wait_until_ready

ROOT = Path(__file__).resolve().parents[1]
K = 3


def p50_ms(call: Callable[[str], Any], queries: list[str]) -> float:
    """Median wall time of call(query) over `queries`, after one warm-up call."""
    call(queries[0])
    times = []
    for query in queries:
        start = time.perf_counter()
        call(query)
        times.append(time.perf_counter() - start)
    return round(1000 * statistics.median(times), 3)


def ok(response: tuple[int, bytes]) -> None:
    status, body = response
    if status != 200:
        raise RuntimeError(f"the service answered {status}: {body[:300]!r}")


def asgi_get(app: Any, loop: asyncio.AbstractEventLoop, path: str, params: dict[str, Any]
             ) -> None:
    """One GET through the ASGI app itself on `loop` (no client, no socket), failing on an
    error status."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": urlencode(params).encode(), "headers": [(b"host", b"profile")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
    loop.run_until_complete(app(scope, receive, send))
    if sent[0]["status"] != 200:
        raise RuntimeError(f"{path} answered {sent[0]['status']}: {sent[1:]}")


def parts(app: Any, queries: list[str], mode: str) -> dict[str, float]:
    """Each step of the route for `mode`, alone, on the searcher the app serves."""
    served = app.state.service.holder.current
    searcher, depth = served.searcher, served.searcher.retrieval.depth
    info = IndexInfo(source="workspace", revision=None, requested=None, data_hash="x",
                     store="sqlite", documents=1, chunks=1, embedding_model="m", loaded_at="t")
    vectors = {q: searcher.query_encoder.encode(q)[None, :] for q in queries}
    lists = {q: (searcher.keyword.search(q, depth), searcher.dense.search(vectors[q], depth)[0])
             for q in queries}
    results = {q: searcher.search(q, K, mode) for q in queries}
    hits = {q: search_hits(searcher, q, results[q]) for q in queries}
    row: dict[str, float] = {}
    if mode != "bm25":
        row["encode"] = p50_ms(searcher.query_encoder.encode, queries)
        row["dense"] = p50_ms(lambda q: searcher.dense.search(vectors[q], depth), queries)
    if mode != "dense":
        row["bm25"] = p50_ms(lambda q: searcher.keyword.search(q, depth), queries)
    row["fusion"] = p50_ms(lambda q: combine(*lists[q], mode, searcher.fusion, K), queries)
    row["search"] = p50_ms(lambda q: searcher.search(q, K, mode), queries)
    row["documents"] = p50_ms(lambda q: searcher.documents([r.doc_id for r in results[q]]),
                              queries)
    row["chunks"] = p50_ms(lambda q: searcher.chunks([r.chunk_id for r in results[q]]), queries)
    row["snippets"] = p50_ms(lambda q: searcher.snippets(q, [r.chunk_id for r in results[q]]),
                             queries)
    row["lookups"] = p50_ms(lambda q: search_hits(searcher, q, results[q]), queries)
    row["response_json"] = p50_ms(lambda q: SearchResponse(
        query=q, mode=mode, k=K, fusion=None, rerank_depth=None, took_ms=1.0, index=info,
        results=hits[q]).model_dump_json(), queries)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = workspace_parser(__doc__, ROOT)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work")
    args = parser.parse_args(argv)
    queries = workspace_queries(args.index, args.data)
    if queries is None:
        return 2
    queries = queries[:args.queries]
    config = make_config(index=str(args.index), params=str(args.params), watch_seconds=0,
                         chat_model=None, gate=None)
    app = create_app(config)
    app.state.service.holder.load()
    rows: dict[str, dict[str, float]] = {}
    loop = asyncio.new_event_loop()  # one, as a server has: its thread pool stays warm
    dense = app.state.service.holder.current.searcher.dense
    for mode in ("bm25", "dense", "hybrid"):
        rows[mode] = parts(app, queries, mode)
        rows[mode]["health_route"] = p50_ms(lambda q: asgi_get(app, loop, "/health", {}), queries)
        rows[mode]["route_in_process"] = p50_ms(lambda q, m=mode: asgi_get(
            app, loop, "/hybrid_search", {"query": q, "k": K, "mode": m}), queries)
        if mode != "bm25" and isinstance(dense.index, HalfPrecisionScan):
            dense.index = dense.index.exact
            rows[mode]["route_in_process_flat_scan"] = p50_ms(lambda q, m=mode: asgi_get(
                app, loop, "/hybrid_search", {"query": q, "k": K, "mode": m}), queries)
            scan_in_half_precision(dense)
        print(mode, rows[mode], flush=True)
    loop.close()
    server, base = start_service(["--index", str(args.index), "--params", str(args.params),
                                  "--watch", "0", "--chat-model", "none"],
                                 args.work / "logs" / "service_profile.log",
                                 {"HF_HUB_OFFLINE": "1", "HYBRIDRAG_API_KEY": ""}, ROOT)
    try:
        wait_until_ready(f"{base}/ready", server)
        with KeepAliveClient(base) as client:
            for mode in rows:
                rows[mode]["loopback_http"] = p50_ms(lambda q, m=mode: ok(client.get(
                    "/hybrid_search", {"query": q, "k": K, "mode": m})), queries)
                print(mode, "loopback", rows[mode]["loopback_http"], flush=True)
    finally:
        stop(server)
    results = {"machine": describe_machine(), "queries": len(queries), "k": K, "parts_ms": rows}
    write_json(args.out / "service_profile.json", results)
    atomic_write_text(args.out / "service_profile.md", report(results))
    return 0


def report(results: dict[str, Any]) -> str:
    names = list(dict.fromkeys(name for row in results["parts_ms"].values() for name in row))
    return "\n".join([
        "# Where a search request's time goes",
        "",
        f"{results['machine']}. One run of `python -m bench.service_profile`: p50 milliseconds "
        f"over {results['queries']} held-out queries, one at a time, k={results['k']}. `search` "
        "is retrieval and fusion together (encoding overlaps BM25 on the encoder's thread); "
        "`lookups` the documents, chunks and snippets of the results; `response_json` the "
        "response model and its JSON; `health_route` the framework's floor (GET /health through "
        "the ASGI app); `route_in_process` the whole route through the ASGI app without a "
        "client or socket (parameters, dependencies, thread hand-off, the response); "
        "`route_in_process_flat_scan` the same with the flat vector index searched directly "
        "(the service scans an fp16 copy and rescores exactly: hybridrag.search.half_scan); "
        "`loopback_http` through uvicorn and a keep-alive http.client connection, as "
        "bench-service drives it.",
        "",
        markdown_table(["part", *results["parts_ms"]],
                       [[name, *(row.get(name) for row in results["parts_ms"].values())]
                        for name in names]),
        "",
        "Reproduce: `make bench-service-profile`.",
        "",
    ])


if __name__ == "__main__":
    sys.exit(main())
