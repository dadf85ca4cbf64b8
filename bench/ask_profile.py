"""Where an /ask's time goes before its first token: each step of the answer path measured alone,
in one run, and the prefill's ONNX Runtime operators.

    python -m bench.ask_profile      # after `make repro` (data/index, the chat model and its export)
    python -m bench.ask_profile --sources 3 1    # one row per count of sources in the prompt

The answer path as `hybridrag serve` builds it (the params' answers settings, the served
reranker and answerability gate, the export_chat model on answers.runtime), one held-out test
query at a time, p50 milliseconds: hybrid search without rerank (`search`); the sources as /ask
gets them (`retrieve`: search, the cross-encoder over rerank.depth candidates, lookups, the
token cut); the gate's decision (`gate`: its classifier on the best source, the others only
when that one fails); the chat model's first streamed piece
(`first_token`: the prompt's prefill and one step) and the rest of the reply (`rest`); for each
count of sources asked for (`--sources`), then for the first count again
with the export as it is (the LM head on every prompt position, where the service's generator
computes the last one only). Then the prefill of the median-length prompt with ONNX Runtime's
profiler on: kernel time per operator type, and the LM head's share.
Results: bench/results/ask_profile.json and .md.
"""

from __future__ import annotations

import collections
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hybridrag.answers.ask import gate_reason, retrieve
from hybridrag.answers.prompt import build_prompt
from hybridrag.atomic import atomic_write_text
from hybridrag.chat.generation import prompt_ids
from hybridrag.chat.onnx import OnnxGenerator, cpu_threads
from hybridrag.reporting import describe_machine, markdown_table, write_json
from hybridrag.service.settings import make_config
from hybridrag.service.state import ChatHolder, IndexHolder
from support.benchmarks import workspace_parser, workspace_queries

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("search", "retrieve", "gate", "first_token", "rest")


def step_times(config: Any, searcher: Any, generator: Any, queries: list[str], sources: int
               ) -> tuple[dict[str, Any], list[int], list[str]]:
    """p50 ms of each part over `queries` (after two warm-up queries) with `generator` and
    `sources` retrieved sources in each prompt, the token ids of the median-length prompt, and
    the replies."""
    settings = config.answers
    times: dict[str, list[float]] = {part: [] for part in PARTS}
    prompts: list[list[int]] = []
    replies: list[str] = []
    for n, query in enumerate(queries[:2] + queries):
        started = time.perf_counter()
        searcher.search(query, k=sources, rerank=False)
        searched = time.perf_counter()
        found = retrieve(generator, searcher, [query], settings, sources)[0]
        retrieved = time.perf_counter()
        gate_reason(config.gate, query, found)
        gated = time.perf_counter()
        prompt = build_prompt(query, found.sources)
        pieces = iter(generator.stream(prompt, settings.max_new_tokens))
        reply = [next(pieces, "")]
        first = time.perf_counter()
        reply.extend(pieces)
        ended = time.perf_counter()
        if n < 2:
            continue
        replies.append("".join(reply))
        for part, seconds in zip(PARTS, (searched - started, retrieved - searched,
                                         gated - retrieved, first - gated, ended - first),
                                 strict=True):
            times[part].append(seconds)
        prompts.append(prompt_ids(generator.tokenizer, prompt))
    row = {part: round(1000 * statistics.median(values), 1) for part, values in times.items()}
    row["before_first_token"] = round(row["retrieve"] + row["gate"] + row["first_token"], 1)
    row["prompt_tokens_p50"] = statistics.median(len(ids) for ids in prompts)
    row["sources"] = sources
    row["runtime"] = f"{generator.runtime} {generator.precision}"
    if generator.runtime == "onnx":
        row["runtime"] += (", LM head on the last position" if generator.last_position
                           else ", LM head on every position")
    return row, sorted(prompts, key=len)[len(prompts) // 2], replies


def prefill_operators(export: Path, prompt: list[int], runs: int = 3) -> dict[str, Any]:
    """Kernel ms per operator type in the last of `runs` prefills of the prompt's token ids on
    the export, ONNX Runtime's profiler on (its intra-op threads as OnnxGenerator sets them)."""
    import numpy as np
    import onnxruntime_genai as og

    ids = np.asarray([prompt], dtype=np.int32)
    with tempfile.TemporaryDirectory(prefix="hybridrag-profile-") as folder:
        config = og.Config(str(export))
        config.overlay(json.dumps({"model": {"decoder": {"session_options": {
            "intra_op_num_threads": cpu_threads(), "enable_profiling": f"{folder}/prefill"}}}}))
        model = og.Model(config)
        wall = []
        for _ in range(runs):
            params = og.GeneratorParams(model)
            params.set_search_options(max_length=ids.shape[1] + 1, batch_size=1)
            generator = og.Generator(model, params)
            started = time.perf_counter()
            generator.append_tokens(ids)
            generator.generate_next_token()
            wall.append(time.perf_counter() - started)
            del generator, params
        del model  # the profile is written when the session closes
        gc.collect()
        events = json.loads(next(Path(folder).glob("prefill*.json")).read_text())
    last = [e for e in events if e.get("name") == "model_run"][-1]
    kernels = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")
               and last["ts"] <= e["ts"] <= last["ts"] + last["dur"]]
    by_operator: collections.Counter[str] = collections.Counter()
    for event in kernels:
        by_operator[event["args"]["op_name"]] += event["dur"]
    lm_head = sum(e["dur"] for e in kernels if e["name"].startswith("/lm_head/"))
    return {"prompt_tokens": int(ids.shape[1]), "prefill_ms": round(1000 * wall[-1], 1),
            "kernels_ms": {op: round(us / 1000, 1) for op, us in by_operator.most_common()},
            "lm_head_ms": round(lm_head / 1000, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = workspace_parser(__doc__, ROOT)
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--sources", type=int, nargs="+",
                        help="retrieved sources in each prompt, one row per count (default: the "
                             "params' answers.sources)")
    args = parser.parse_args(argv)
    queries = workspace_queries(args.index, args.data)
    if queries is None:
        return 2
    config = make_config(index=str(args.index), params=str(args.params), watch_seconds=0)
    if config.chat_model is None:
        print("error: no chat model; run `make repro` first", file=sys.stderr)
        return 2
    searcher = IndexHolder(config).load().searcher
    generator = ChatHolder(config).generator()
    counts = args.sources or [config.answers.sources]
    runs = [(generator, n) for n in counts]
    if getattr(generator, "last_position", False):  # the export as written, for the difference
        runs.append((OnnxGenerator(generator.folder, last_position=False), counts[0]))
    steps, replies, prompts = [], [], []
    for each, sources in runs:
        row, prompt, texts = step_times(config, searcher, each, queries[:args.questions], sources)
        steps.append(row)
        replies.append(texts)
        prompts.append(prompt)
        print(row, flush=True)
    for row, texts in zip(steps, replies, strict=True):  # against the export as it is
        if row["sources"] == steps[-1]["sources"]:
            row["same_replies"] = round(sum(map(str.__eq__, texts, replies[-1])) / len(texts), 3)
    prompt = prompts[0]  # the median prompt of the first count, profiled below
    results: dict[str, Any] = {"machine": describe_machine(), "questions": args.questions,
                               "params_sources": config.answers.sources, "steps_ms": steps}
    if generator.runtime == "onnx":
        results["prefill"] = prefill_operators(generator.folder, prompt)
        print(results["prefill"], flush=True)
    write_json(args.out / "ask_profile.json", results)
    atomic_write_text(args.out / "ask_profile.md", report(results))
    return 0


def report(results: dict[str, Any]) -> str:
    columns = ["runtime", "sources", "prompt_tokens_p50", *PARTS, "before_first_token",
               "same_replies"]
    lines = [
        "# Where an /ask's time goes", "",
        f"{results['machine']}. One run of `python -m bench.ask_profile`: the answer path as "
        f"`hybridrag serve` builds it, in process, {results['questions']} held-out test queries "
        "one at a time, `sources` retrieved sources in each prompt (answers.sources: "
        f"{results['params_sources']}); p50 milliseconds of each step. `search`: "
        "hybrid retrieval alone; `retrieve`: the sources as /ask gets them (search, the "
        "cross-encoder over the reranked candidates, lookups, the token cut); `gate`: the "
        "answerability gate's decision (its classifier on the best source, on the others only "
        "when that one fails: Gate.decide); `first_token`: the prompt's prefill and the first "
        "streamed piece; `rest`: the rest of the reply; `before_first_token`: retrieve + gate + "
        "first_token. The service's chat model computes the LM head on the prompt's last "
        "position only (hybridrag.chat.last_position); the last row is the export as "
        "export_chat wrote it, every position's logits; `same_replies`: the share of the "
        "replies equal to that row's, text for text, with the same sources (every query's "
        "prompt is answered here, whatever the gate says).", "",
        markdown_table(columns, [[row.get(c) for c in columns] for row in results["steps_ms"]]),
        ""]
    if "prefill" in results:
        prefill = results["prefill"]
        lines += [
            f"## The prefill of the median prompt ({prefill['prompt_tokens']} tokens): "
            f"{prefill['prefill_ms']} ms", "",
            "ONNX Runtime's profiler, kernel milliseconds per operator type in one prefill of "
            "the export as export_chat wrote it; the LM head (every prompt position's logits) "
            f"takes {prefill['lm_head_ms']} ms of MatMulNBits.", "",
            markdown_table(["operator", "ms"], list(prefill["kernels_ms"].items())), ""]
    return "\n".join(lines + ["Reproduce: `make bench-ask-profile`.", ""])


if __name__ == "__main__":
    sys.exit(main())
