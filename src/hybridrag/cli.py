"""hybridrag: `search "query" -k 5 --mode hybrid --filter topic=Arts` prints ranked, explained
results; `ask "question"` answers from retrieved sources and cites them; `serve` runs the search
service."""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from hybridrag.config import Params, ParamsError, load_params
from hybridrag.records import Document
from hybridrag.search.filters import FILTER_FIELDS, FilterError, parse_filters
from hybridrag.search.hits import Hit
from hybridrag.search.hybrid import MODES, SearchResult

if TYPE_CHECKING:
    from hybridrag.search.searcher import Searcher


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
    ask.add_argument("query", help="the question")
    ask.add_argument("--sources", type=int, default=3, help="sources in the prompt (default: 3)")
    ask.add_argument("--rerank", action="store_true", help="rerank the sources first")
    ask.add_argument("--chat-model", default="models/sft/lora",
                     help="prepare_base or fine-tuned run folder (default: %(default)s)")
    ask.add_argument("--chat-base", default="models/base",
                     help="its base model folder (default: %(default)s)")
    ask.add_argument("--max-new-tokens", type=int, default=96)
    add_index_arguments(ask)
    ask.add_argument("--json", action="store_true", help="print JSON instead of text")

    serve = commands.add_parser(
        "serve", help="run the search service (FastAPI + uvicorn)",
        description="Serve the workspace index, or a committed revision's index fetched through "
                    "DVC. The API key comes from the environment variable HYBRIDRAG_API_KEY.")
    serve.add_argument("--index", default="data/index", help="workspace index (default: %(default)s)")
    serve.add_argument("--revision", help="serve this git tag/branch/commit's index instead")
    serve.add_argument("--repo", default=".", help="the git + DVC repository (default: %(default)s)")
    serve.add_argument("--cache-dir", help="where fetched revisions are kept "
                                           "(default: REPO/.hybridrag-cache/indexes)")
    serve.add_argument("--params", default="params.yaml", help="retrieval and fusion defaults")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--watch", type=float, default=2.0, metavar="SECONDS",
                       help="reload when the workspace index is rebuilt; 0 turns it off")
    serve.add_argument("--connections", type=int, default=8, help="SQLite connections per index")
    serve.add_argument("--device", default="auto", help="query encoder device (default: auto)")
    serve.add_argument("--reranker", default="models/reranker",
                       help="train_reranker folder for rerank=true (default: %(default)s)")
    serve.add_argument("--chat-model", default="auto",
                       help="chat model for /ask: a run folder, 'auto' (models/sft/lora, else "
                            "models/base) or 'none'")
    serve.add_argument("--chat-base", default="models/base", help="the chat model's base folder")
    return parser


def add_index_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", default="data/index", help="index folder (default: %(default)s)")
    parser.add_argument("--reranker", default="models/reranker",
                        help="train_reranker folder, used with --rerank (default: %(default)s)")
    parser.add_argument("--embedding", help="the index's embedding set for dense retrieval "
                                            "(default: retrieval.embedding in params)")
    parser.add_argument("--params", default="params.yaml",
                        help="retrieval, fusion and rerank settings (default: %(default)s; "
                             "built-in defaults if missing)")
    parser.add_argument("--device", default="auto", help="model device (default: auto)")


def hit_json(hit: Hit | None) -> dict[str, Any] | None:
    return None if hit is None else {"score": hit.score, "rank": hit.rank, "chunk_id": hit.chunk_id}


def result_json(result: SearchResult, document: Document, snippet: str) -> dict[str, Any]:
    return {"rank": result.rank, "doc_id": result.doc_id, "chunk_id": result.chunk_id,
            "score": result.score, "title": document.title,
            "metadata": {k: v for k, v in asdict(document).items() if k not in {"doc_id", "title", "text"}},
            "snippet": snippet, "bm25": hit_json(result.bm25), "dense": hit_json(result.dense),
            "rerank": None if result.rerank_score is None else {
                "cross_encoder": result.rerank_score, "first_stage_score": result.first_stage_score,
                "first_stage_rank": result.first_stage_rank}}


def describe_hit(name: str, hit: Hit | None) -> str:
    return f"{name} -" if hit is None else f"{name} {hit.score:.4f} (#{hit.rank})"


def print_result(result: SearchResult, document: Document, snippet: str) -> None:
    meta = [f"{label}: {value}" for label, value in (
        ("author", document.author), ("year", document.year), ("topic", document.topic),
        ("keywords", ", ".join(document.keywords))) if value]
    print(f"{result.rank:>3}. {document.title or result.doc_id}  "
          f"[{result.doc_id}, chunk {result.chunk_id}]  score {result.score:.4f}")
    if meta:
        print("     " + " | ".join(meta))
    rerank = ("" if result.rerank_score is None else
              f" · rerank {result.rerank_score:.4f} (was #{result.first_stage_rank})")
    print(f"     {describe_hit('bm25', result.bm25)} · {describe_hit('dense', result.dense)}{rerank}")
    print(textwrap.indent(textwrap.fill(snippet, width=96), "     "))


def open_searcher(args: argparse.Namespace) -> Searcher:
    from hybridrag.search.searcher import Searcher  # imports torch: keep --help fast

    params = load_params(args.params) if os.path.exists(args.params) else Params()
    retrieval = params.retrieval
    if args.embedding:
        retrieval = replace(retrieval, embedding=args.embedding)
    return Searcher(args.index, retrieval, params.fusion, device=args.device,
                    reranker=args.reranker if args.rerank else None,
                    rerank_depth=params.rerank.depth)


def search_command(args: argparse.Namespace) -> None:
    filters = parse_filters(args.filter)
    searcher = open_searcher(args)
    fusion = searcher.fusion
    if args.fusion:
        fusion = replace(fusion, method=args.fusion)
    if args.dense_weight is not None:
        fusion = replace(fusion, dense_weight=args.dense_weight)
    with searcher:
        results = searcher.search(args.query, k=args.k, mode=args.mode, filters=filters,
                                  fusion=fusion, rerank=args.rerank)
        documents = searcher.documents([r.doc_id for r in results])
        chunks = searcher.chunks([r.chunk_id for r in results])
    snippets = {r.doc_id: textwrap.shorten(chunks[r.chunk_id].text, 300) for r in results}
    if args.json:
        print(json.dumps([result_json(r, documents[r.doc_id], snippets[r.doc_id])
                          for r in results], indent=2, ensure_ascii=False))
        return
    if not results:
        print("no results")
    for result in results:
        print_result(result, documents[result.doc_id], snippets[result.doc_id])


def ask_command(args: argparse.Namespace) -> None:
    from hybridrag.answers import answer
    from hybridrag.generation import ChatGenerator

    for folder, made_by in ((args.chat_model, "train_peft / prepare_base"),
                            (args.chat_base, "prepare_base")):
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"no chat model at {folder}; run `dvc repro` ({made_by}) "
                                    "or pass --chat-model / --chat-base")
    with open_searcher(args) as searcher:
        generator = ChatGenerator(args.chat_model, args.chat_base, args.device)
        reply = answer(generator, searcher, [args.query], args.sources, args.rerank,
                       args.max_new_tokens)[0]
    if args.json:
        print(json.dumps({"query": reply.question, "answer": reply.text, "cited": reply.cited,
                          "sources": [asdict(s) for s in reply.sources]},
                         indent=2, ensure_ascii=False))
        return
    print(textwrap.fill(reply.text, width=96))
    print()
    for source in reply.sources:
        mark = "*" if source.number in reply.cited else " "
        print(f"{mark}[{source.number}] {source.title}  [{source.doc_id}, chunk {source.chunk_id}]")
    if not reply.cited:
        print("(the answer cites no source)")


def serve_command(args: argparse.Namespace) -> None:
    import uvicorn

    from hybridrag.service import make_config
    from hybridrag.service.app import create_app

    config = make_config(index=args.index, revision=args.revision, repo=args.repo,
                         params=args.params, cache_dir=args.cache_dir, watch_seconds=args.watch,
                         device=args.device, connections=args.connections,
                         api_key=os.environ.get("HYBRIDRAG_API_KEY"), reranker=args.reranker,
                         chat_model=args.chat_model, chat_base=args.chat_base)
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="info")


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("search", "ask") and not args.query.strip():
        parser.error("the query is empty")
    if args.command == "search" and not 1 <= args.k <= 1000:
        parser.error(f"-k must be between 1 and 1000, got {args.k}")
    if args.command == "ask" and not 1 <= args.sources <= 10:
        parser.error(f"--sources must be between 1 and 10, got {args.sources}")
    commands = {"search": search_command, "ask": ask_command, "serve": serve_command}
    try:
        commands[args.command](args)
    except (FilterError, ParamsError, FileNotFoundError, ValueError) as error:
        print(f"hybridrag: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
