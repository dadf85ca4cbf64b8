"""Stage eval_answers: grounded answers to held-out queries by each chat model, with citations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hybridrag.atomic import atomic_write_text
from hybridrag.config import load_params
from hybridrag.reporting import markdown_table, write_json
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", default="data/ingested")
    parser.add_argument("--index", default="data/index")
    parser.add_argument("--reranker", help="rerank the sources with this train_reranker folder")
    parser.add_argument("--base-model", default="models/base")
    parser.add_argument("--models", default="models/sft", help="fine-tuned variants live here")
    parser.add_argument("--metrics", default="metrics/answers.json")
    parser.add_argument("--report", default="reports/answers.md")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    settings = params.answers
    from hybridrag.answers import answer, grounding_scores
    from hybridrag.evaluation import select_queries
    from hybridrag.generation import ChatGenerator
    from hybridrag.ingest.beir import read_beir
    from hybridrag.search.searcher import Searcher

    dataset = read_beir(args.data)
    qrels = dataset.qrels.get(params.eval_retrieval.split, {})
    queries = select_queries(dataset.queries, qrels, settings.max_queries, seed=settings.seed)
    titles = {d.doc_id: d.title for d in dataset.documents}
    texts = {d.doc_id: d.text for d in dataset.documents}
    results: dict[str, Any] = {}
    samples: dict[str, list[Any]] = {}
    with Searcher(args.index, params.retrieval, params.fusion, reranker=args.reranker,
                  rerank_depth=params.rerank.depth) as searcher:
        for name in settings.models:
            folder = Path(args.base_model) if name == "base" else Path(args.models) / name
            generator = ChatGenerator(folder, args.base_model, params.sft.train.device)
            answers = answer(generator, searcher, [q.text for q in queries], settings.sources,
                             bool(args.reranker), settings.max_new_tokens)
            results[name] = grounding_scores(answers, [qrels[q.query_id] for q in queries],
                                             titles, texts)
            samples[name] = answers
            print(f"{name:>8}: {results[name]}")
    write_json(args.metrics, {"queries": len(queries), "sources": settings.sources,
                              "reranked_sources": bool(args.reranker), **results})
    atomic_write_text(args.report, report(results, samples, len(queries), settings.sources))


def report(results: dict[str, dict[str, float]], samples: dict[str, list[Any]], n: int,
           k: int) -> str:
    columns = list(next(iter(results.values())))
    lines = ["# Grounded answers", "",
             f"{n} held-out queries; each model answers from the top {k} retrieved sources and "
             "cites them as [n]. Rates are shares of queries.", "",
             markdown_table(["model", *columns], [[m, *(v[c] for c in columns)]
                                                   for m, v in results.items()]),
             "## Samples", ""]
    for index in range(min(5, n)):
        first = next(iter(samples.values()))[index]
        lines += [f"**{index + 1}. {first.question}** — sources: "
                  + "; ".join(f"[{s.number}] {s.title}" for s in first.sources), ""]
        lines += [f"- **{m}** " + " ".join(a[index].text.split()) for m, a in samples.items()]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    run(main)
