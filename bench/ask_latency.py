"""/ask over loopback, one question at a time: how long a user waits for an answer and for its
first streamed token, with the chat model on ONNX Runtime GenAI (answers.runtime: onnx, the
export_chat model) and on transformers, in one run.

    python -m bench.ask_latency      # after `make repro` (data/index, the chat model and its export)

For each runtime a real `hybridrag serve` process over the workspace index answers the held-out
test queries with the params' answers settings (answers.sources sources, reranked when
answers.rerank): GET /ask (latency p50 / p95), then GET /ask/stream (first `token` event and
the final `answer` event, p50 / p95). Results: bench/results/ask_latency.json and .md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from hybridrag.atomic import atomic_write_text
from hybridrag.remote import sse_events
from hybridrag.reporting import describe_machine, markdown_table, write_json
from support.benchmarks import workspace_parser, workspace_queries
from support.generation_bench import percentile
from support.service_process import start_service, stop, wait_until_ready

ROOT = Path(__file__).resolve().parents[1]


def ask_once(client: httpx.Client, url: str, query: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.get(f"{url}/ask", params={"query": query})
    response.raise_for_status()
    return time.perf_counter() - started, response.json()


def stream_once(client: httpx.Client, url: str, query: str) -> tuple[float, float, dict[str, Any]]:
    """(seconds to the first token event, to the answer event, the answer)."""
    started = time.perf_counter()
    first = None
    with client.stream("GET", f"{url}/ask/stream", params={"query": query}) as response:
        response.raise_for_status()
        for name, data in sse_events(response.iter_lines()):
            if name == "token" and first is None:
                first = time.perf_counter() - started
            if name == "answer":
                return first if first is not None else time.perf_counter() - started, \
                    time.perf_counter() - started, data
    raise RuntimeError("the stream ended without an answer event")


def measure(url: str, queries: list[str]) -> dict[str, Any]:
    """Latency over every query, and over the ones the chat model answered: a query the gate
    turns away gets its abstention without generation, so it would flatter the figures."""
    with httpx.Client(timeout=120) as client:
        for query in queries[:2]:  # warm up
            ask_once(client, url, query)
        asked = [ask_once(client, url, q) for q in queries]
        streamed = [stream_once(client, url, q) for q in queries]
    generated = [i for i, (_, reply) in enumerate(asked) if reply["gated"] is None]
    whole = [s for s, _ in asked]
    first = [f for f, _, _ in streamed]
    ended = [e for _, e, _ in streamed]
    return {"runtime": asked[0][1]["runtime"], "questions": len(queries),
            "gated": len(queries) - len(generated),
            "ask_p50_s": round(percentile(whole, 50), 3), "ask_p95_s": round(percentile(whole, 95), 3),
            "first_token_p50_s": round(percentile(first, 50), 3),
            "first_token_p95_s": round(percentile(first, 95), 3),
            "stream_end_p50_s": round(percentile(ended, 50), 3),
            "generated_ask_p50_s": round(percentile([whole[i] for i in generated], 50), 3),
            "generated_first_token_p50_s": round(percentile([first[i] for i in generated], 50), 3),
            "reply_words_mean": round(sum(len(r["answer"].split()) for _, r in asked) / len(asked), 1),
            "same_answer_streamed": round(sum(a[1]["answer"] == s[2]["answer"] for a, s in
                                              zip(asked, streamed, strict=True)) / len(asked), 3)}


def main() -> int:
    parser = workspace_parser(__doc__, ROOT)
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work" / "ask")
    args = parser.parse_args()
    queries = workspace_queries(args.index, args.data)
    if queries is None:
        return 2
    queries = queries[:args.questions]
    raw = yaml.safe_load(args.params.read_text())
    args.work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": describe_machine(), "sources": raw["answers"]["sources"],
                               "rerank": raw["answers"]["rerank"], "runs": []}
    for runtime, precision in ((raw["answers"]["runtime"], raw["answers"]["precision"]),
                               ("transformers", "fp32")):
        params = args.work / f"params-{runtime}.yaml"
        params.write_text(yaml.safe_dump({**raw, "answers": {**raw["answers"], "runtime": runtime,
                                                             "precision": precision}},
                                         sort_keys=False))
        server, url = start_service(["--index", str(args.index), "--watch", "0", "--params",
                                     str(params)], args.work / f"{runtime}.log",
                                    {"HYBRIDRAG_API_KEY": ""}, ROOT)
        try:
            wait_until_ready(f"{url}/ready", server)
            row = measure(url, queries)
        finally:
            stop(server)
        results["runs"].append(row)
        print(row, flush=True)
    write_json(args.out / "ask_latency.json", results)
    atomic_write_text(args.out / "ask_latency.md", report(results))
    return 0


def report(results: dict[str, Any]) -> str:
    columns = ["runtime", "gated", "ask_p50_s", "ask_p95_s", "first_token_p50_s",
               "first_token_p95_s", "stream_end_p50_s", "generated_ask_p50_s",
               "generated_first_token_p50_s", "reply_words_mean", "same_answer_streamed"]
    return "\n".join([
        "# /ask over loopback, one question at a time", "",
        f"{results['machine']}. One `hybridrag serve` process per runtime, in one run of "
        f"`python -m bench.ask_latency`; {results['runs'][0]['questions']} held-out test queries, "
        f"{results['sources']} sources{' reranked' if results['rerank'] else ''}, the params' "
        "answers.max_new_tokens. Seconds, measured by the client. `gated`: queries the "
        "answerability gate turned away without generating; `generated_*`: the p50 over the "
        "others, the ones the chat model answered.", "",
        markdown_table(columns, [[r[c] for c in columns] for r in results["runs"]]), ""])


if __name__ == "__main__":
    sys.exit(main())
