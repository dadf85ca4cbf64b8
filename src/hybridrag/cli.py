"""hybridrag: `search "query" -k 5 --mode hybrid --filter topic=Arts` prints ranked, explained
results; `ask "question"` answers from retrieved sources and cites them; `serve` runs the search
service."""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
import textwrap
from typing import TYPE_CHECKING, Any

from hybridrag.config import load_params
from hybridrag.errors import FilterError, ParamsError
from hybridrag.layout import BASE_MODEL, CHAT_EXPORT, GATE, INDEX, PARAMS, RERANKER
from hybridrag.records import file_location
from hybridrag.remote import ServiceError
from hybridrag.search.filters import FILTER_FIELDS, parse_filters
from hybridrag.search.hybrid import MODES

if TYPE_CHECKING:
    from hybridrag.answers.gate import Gate
    from hybridrag.chat.generation import ChatGenerator
    from hybridrag.config import AnswersParams
    from hybridrag.search.results import RetrieverScore, SearchHit
    from hybridrag.search.searcher import Searcher

# `ask` options without a default that a service chooses for itself (--server refuses them)
SERVICE_SETTINGS = ("chat_model", "runtime", "embedding", "backend")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hybridrag", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    search = commands.add_parser(
        "search", help="search the index built by `dvc repro`",
        description="Search the index: BM25 (SQLite FTS5), dense (FAISS) or both fused.")
    search.add_argument("query", help="free text; FTS5 operators and quotes are treated as words")
    search.add_argument("-k", type=int, default=10, help="results to show (default: %(default)s)")
    search.add_argument("--mode", choices=MODES, default="hybrid")
    search.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE",
                        help=f"repeatable; FIELD is one of {', '.join(FILTER_FIELDS)}; "
                             "year takes 1999, 1990..2000, 1990.. or ..2000")
    search.add_argument("--fusion", choices=("rrf", "weighted"),
                        help="override fusion.method from params.yaml")
    search.add_argument("--dense-weight", type=float, help="override fusion.dense_weight")
    search.add_argument("--rerank", action="store_true",
                        help="rescore the top candidates with the trained cross-encoder")
    add_index_arguments(search)
    search.add_argument("--json", action="store_true", help="print JSON instead of text")

    ask = commands.add_parser(
        "ask", help="answer a question from retrieved sources, with citations",
        description="Retrieve sources (hybrid search), prompt a local chat model with them "
                    "numbered, and print its answer and the sources it cites.")
    ask.add_argument("query", help="the question, or - to read one question per line from standard "
                                   "input (the models load once; with --json, one JSON object "
                                   "per line)")
    ask.add_argument("--server", metavar="URL", default=os.environ.get("HYBRIDRAG_SERVER"),
                     help="ask a running `hybridrag serve` (e.g. http://127.0.0.1:8000) instead "
                          "of loading the models here (they stay loaded there); its index, "
                          "models and params apply, X-API-Key from "
                          "HYBRIDRAG_API_KEY (env: HYBRIDRAG_SERVER)")
    ask.add_argument("--sources", type=int, help="sources in the prompt (default: answers.sources)")
    ask.add_argument("--rerank", action=argparse.BooleanOptionalAction,
                     help="rerank the sources first (default: answers.rerank)")
    ask.add_argument("--chat-model",
                     help="base, an SFT method, dpo, or a run folder (default: answers.chat_model)")
    ask.add_argument("--chat-base", default=BASE_MODEL,
                     help="the base model folder (default: %(default)s)")
    ask.add_argument("--max-new-tokens", type=int, help="default: answers.max_new_tokens")
    ask.add_argument("--runtime", choices=("transformers", "onnx"),
                     help="generate in PyTorch or on ONNX Runtime GenAI (default: answers.runtime)")
    ask.add_argument("--chat-export", default=CHAT_EXPORT,
                     help="export_chat's model, used with --runtime onnx (default: %(default)s)")
    ask.add_argument("--gate", default=GATE,
                     help="choose_gate's answerability gate, applied when answers.gate is set and "
                          "the sources are reranked, with the index's own threshold where "
                          "index_folder chose one (default: %(default)s)")
    add_index_arguments(ask)
    ask.add_argument("--json", action="store_true", help="print JSON instead of text")

    serve = commands.add_parser(
        "serve", help="run the search service (FastAPI + uvicorn)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve the workspace index, or a committed revision's index fetched through "
                    "DVC. The API key comes from the environment variable HYBRIDRAG_API_KEY.\n"
                    "`uvicorn api.main:app` serves the same, configured by the environment:\n"
                    + environment_help())
    serve.add_argument("--index", default=INDEX, help="workspace index (default: %(default)s)")
    serve.add_argument("--revision", help="serve this git tag/branch/commit's index instead")
    serve.add_argument("--repo", default=".", help="the git + DVC repository (default: %(default)s)")
    serve.add_argument("--cache-dir", help="where fetched revisions are kept "
                                           "(default: REPO/.hybridrag-cache/indexes)")
    serve.add_argument("--params", default=PARAMS, help="retrieval and fusion defaults")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--watch", type=float, default=2.0, metavar="SECONDS",
                       help="reload when the workspace index is rebuilt; 0 turns it off")
    serve.add_argument("--connections", type=int, default=8, help="SQLite connections per index")
    serve.add_argument("--device", default="auto", help="query encoder device (default: auto)")
    serve.add_argument("--reranker", default=RERANKER,
                       help="train_reranker folder for rerank=true (default: %(default)s)")
    serve.add_argument("--gate", default=GATE,
                       help="choose_gate's answerability gate for /ask when answers.gate is set "
                            "(default: %(default)s)")
    serve.add_argument("--chat-model", default="auto",
                       help="chat model for /ask: a run folder, 'auto' (answers.chat_model) "
                            "or 'none'")
    serve.add_argument("--chat-base", default=BASE_MODEL, help="the chat model's base folder")
    serve.add_argument("--chat-export", default=CHAT_EXPORT,
                       help="export_chat's model, for answers.runtime onnx (default: %(default)s)")
    serve.add_argument("--log-level", default="info",
                       choices=["critical", "error", "warning", "info", "debug"],
                       help="uvicorn's log level; below info there is no line per request "
                            "(default: %(default)s)")
    serve.add_argument("--no-half-scan", dest="half_scan", action="store_false",
                       help="search a flat vector index directly, not through an fp16 copy "
                            "rescored to the same results (the copy takes half the vectors' "
                            "memory again)")
    return parser


def add_index_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", default=INDEX, help="index folder (default: %(default)s)")
    parser.add_argument("--reranker", default=RERANKER,
                        help="train_reranker folder, used with --rerank (default: %(default)s)")
    parser.add_argument("--embedding", help="the index's embedding set for dense retrieval "
                                            "(default: retrieval.embedding in params)")
    parser.add_argument("--params", default=PARAMS,
                        help="retrieval, fusion, rerank and answers settings (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="model device (default: auto)")
    parser.add_argument("--backend", choices=("sqlite", "postgres"),
                        help="read the index from its folder or from the PostgreSQL schema it "
                             "was published to ($HYBRIDRAG_POSTGRES_DSN; default: store.backend "
                             "in params)")


def environment_help() -> str:
    from hybridrag.service.settings import ENVIRONMENT

    return "\n".join(f"  {name} (default {default or 'unset'}): {meaning}"
                     for name, (default, meaning) in ENVIRONMENT.items())


def plain(snippet: str) -> str:
    """An HTML snippet as terminal text: marks dropped, entities decoded."""
    return html.unescape(re.sub(r"</?mark>", "", snippet))


def describe_score(name: str, score: RetrieverScore | None) -> str:
    return f"{name} -" if score is None else f"{name} {score.score:.4f} (#{score.rank})"


def print_hit(hit: SearchHit) -> None:
    meta = [f"{label}: {value}" for label, value in (
        ("author", hit.author), ("year", hit.year), ("topic", hit.topic),
        ("keywords", ", ".join(hit.keywords)), ("language", hit.language)) if value]
    where = (file_location(hit.source_path, hit.page, hit.section)
             or f"{hit.doc_id}, chunk {hit.chunk_id}")
    print(f"{hit.rank:>3}. {hit.title or hit.doc_id}  [{where}]  score {hit.score:.4f}")
    if meta:
        print("     " + " | ".join(meta))
    rerank = ("" if hit.rerank is None else
              f" · rerank {hit.rerank.cross_encoder:.4f} (was #{hit.rerank.first_stage_rank})")
    print(f"     {describe_score('bm25', hit.bm25)} · {describe_score('dense', hit.dense)}{rerank}")
    print(textwrap.indent(textwrap.fill(plain(hit.snippet), width=96), "     "))


def open_searcher(args: argparse.Namespace, rerank: bool) -> Searcher:
    from hybridrag.backends import open_searcher  # imports torch: keep --help fast

    params = load_params(args.params)
    retrieval = params.retrieval
    if args.embedding:
        retrieval = retrieval.updated(embedding=args.embedding)
    store = params.store.updated(backend=args.backend) if args.backend else params.store
    return open_searcher(store, args.index, retrieval, params.fusion, device=args.device,
                         reranker=args.reranker if rerank else None,
                         rerank_depth=params.rerank.depth)


def search_command(args: argparse.Namespace) -> None:
    from hybridrag.search.results import search_hits

    filters = parse_filters(args.filter)
    with open_searcher(args, args.rerank) as searcher:
        overrides = {"method": args.fusion, "dense_weight": args.dense_weight}
        fusion = searcher.fusion.updated(**{k: v for k, v in overrides.items() if v is not None})
        results = searcher.search(args.query, k=args.k, mode=args.mode, filters=filters,
                                  fusion=fusion, rerank=args.rerank)
        hits = search_hits(searcher, args.query, results)
    if args.json:
        print(json.dumps([hit.model_dump() for hit in hits], indent=2, ensure_ascii=False))
        return
    if not hits:
        print("no results")
    for hit in hits:
        print_hit(hit)


def ask_command(args: argparse.Namespace) -> None:
    from_input = args.query == "-"
    # read as they come, so that typed questions are answered one by one
    questions = (q for q in map(str.strip, sys.stdin) if q) if from_input else iter([args.query])
    indent = None if from_input else 2  # one JSON object per line for many questions
    if args.server:
        for number, question in enumerate(questions):
            announce(args, from_input, number, question)
            ask_served(args, question, indent)
        return
    from hybridrag.answers.index_gate import load_gate
    from hybridrag.chat.runtime import load_generator
    from hybridrag.layout import chat_model_folder

    settings = load_params(args.params).answers
    if args.runtime:
        settings = settings.updated(runtime=args.runtime, precision=settings.precision
                                    if args.runtime == "onnx" else "fp32")
    folder = chat_model_folder(args.chat_model or settings.chat_model, args.chat_base)
    for path, made_by in ((folder, "train_lora / train_full / train_dpo"),
                          (args.chat_base, "prepare_base")):
        if not os.path.isdir(path):
            raise FileNotFoundError(f"no chat model at {path}; run `dvc repro` ({made_by}) "
                                    "or pass --chat-model / --chat-base")
    rerank = settings.rerank if args.rerank is None else args.rerank
    gate = (load_gate(args.gate, args.index, required=False, device=args.device)
            if settings.gate and rerank else None)
    with open_searcher(args, rerank) as searcher:
        generator = load_generator(folder, args.chat_base, settings.runtime, settings.precision,
                                   args.chat_export, args.device)
        for number, question in enumerate(questions):
            announce(args, from_input, number, question)
            ask_here(args, question, generator, searcher, settings, rerank, gate, folder, indent)


def announce(args: argparse.Namespace, from_input: bool, number: int, question: str) -> None:
    """The `Q:` line above each answer when the questions come from standard input."""
    if from_input and not args.json:
        print(("\n" if number else "") + f"Q: {question}", flush=True)


def ask_here(args: argparse.Namespace, question: str, generator: ChatGenerator,
             searcher: Searcher, settings: AnswersParams, rerank: bool, gate: Gate | None,
             folder: str, indent: int | None) -> None:
    """Answer one question with the models loaded in this process."""
    from hybridrag.answers.ask import answer_stream

    streamed = answer_stream(generator, searcher, question, settings, args.sources, rerank,
                             args.max_new_tokens, gate)
    for piece in streamed.stream:  # the answer as the model writes it
        if not args.json:
            print(piece, end="", flush=True)
    reply = streamed.answer()
    written = streamed.stream.result.text if streamed.stream.result is not None else reply.text
    print_reply(args, {"query": reply.question, "answer": reply.text, "cited": reply.cited,
                       "stopped": reply.stopped, "gated": reply.gated,
                       "extracted": reply.extracted, "chat_model": str(folder),
                       "runtime": f"{generator.runtime} {generator.precision}",
                       "sources": [{**vars(s), "cited": s.number in reply.cited}
                                   for s in reply.sources]}, written, indent)


def ask_served(args: argparse.Namespace, question: str, indent: int | None) -> None:
    """Answer one question with the service at --server (its models and settings)."""
    from hybridrag.remote import ask_service

    pieces, reply = [], None
    for event, data in ask_service(args.server, question, args.sources, args.rerank,
                                   args.max_new_tokens, os.environ.get("HYBRIDRAG_API_KEY")):
        if event == "token":
            pieces.append(data["text"])
            if not args.json:
                print(data["text"], end="", flush=True)
        elif event == "answer":
            reply = data
    if reply is None:
        raise LookupError(f"{args.server} ended the stream without an answer")
    print_reply(args, reply, "".join(pieces).strip(), indent)


def print_reply(args: argparse.Namespace, reply: dict[str, Any], written: str,
                indent: int | None) -> None:
    """An answer (the /ask response's shape) under its streamed text `written`: as JSON, or
    the notes on how it differs from the text and its sources."""
    if args.json:
        print(json.dumps(reply, indent=indent, ensure_ascii=False), flush=True)
        return
    print("\n")
    if reply["extracted"]:
        print(f"(the model found no answer; the reranker's best sentence of the sources: "
              f"{reply['answer']})")
    elif reply["answer"] != written:
        print(f"(cited where the answer's words are: {reply['answer']})")
    if reply["gated"]:
        print(f"(not asked: {reply['gated']}; the nearest sources:)")
    print("\n".join(source_lines(reply["sources"], reply["cited"])), flush=True)


def source_lines(sources: list[dict[str, Any]], cited: list[int]) -> list[str]:
    """The sources under a printed answer, the cited ones marked *, then the passage each cited
    source showed the model, so a reader checks the answer against its evidence."""
    lines = []
    for source in sources:
        mark = "*" if source["number"] in cited else " "
        where = (file_location(source.get("source_path"), source.get("page"),
                               source.get("section"))
                 or f"{source['doc_id']}, chunk {source['chunk_id']}")
        lines.append(f"{mark}[{source['number']}] {source['title']}  [{where}]")
    if not cited:
        return [*lines, "(the answer cites no source)"]
    for number in cited:
        source = sources[number - 1]
        lines += ["", f"[{number}] {source['title']}:",
                  textwrap.indent(textwrap.fill(" ".join(source["text"].split()), width=96),
                                  "  > ")]
    return lines


def serve_command(args: argparse.Namespace) -> None:
    import uvicorn

    from hybridrag.service.app import create_app
    from hybridrag.service.settings import make_config

    config = make_config(index=args.index, revision=args.revision, repo=args.repo,
                         params=args.params, cache_dir=args.cache_dir, watch_seconds=args.watch,
                         device=args.device, connections=args.connections,
                         api_key=os.environ.get("HYBRIDRAG_API_KEY"), reranker=args.reranker,
                         chat_model=args.chat_model, chat_base=args.chat_base,
                         chat_export=args.chat_export, gate=args.gate, half_scan=args.half_scan)
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=args.log_level)


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("search", "ask") and not args.query.strip():
        parser.error("the query is empty")
    if args.command == "search" and not 1 <= args.k <= 1000:
        parser.error(f"-k must be between 1 and 1000, got {args.k}")
    if args.command == "ask" and args.sources is not None and not 1 <= args.sources <= 10:
        parser.error(f"--sources must be between 1 and 10, got {args.sources}")
    if args.command == "ask" and args.server:
        local = [f"--{name.replace('_', '-')}" for name in SERVICE_SETTINGS
                 if getattr(args, name) is not None]
        if local:
            parser.error(f"{', '.join(local)}: the service's own settings apply with --server")
    commands = {"search": search_command, "ask": ask_command, "serve": serve_command}
    try:
        commands[args.command](args)
    except (FilterError, ParamsError, FileNotFoundError, ValueError, LookupError,
            ServiceError) as error:
        print(f"hybridrag: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
