"""Stage eval_answers: the product's grounded answers (answers.chat_model over the served
retriever) to held-out test queries, scored by the one scorer, beside "always cite [1]"."""

from __future__ import annotations

from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", default="data/ingested")
    parser.add_argument("--index", default="data/index")
    parser.add_argument("--reranker", default="models/reranker",
                        help="reranks the sources when answers.rerank is set")
    parser.add_argument("--base-model", default="models/base")
    parser.add_argument("--sft-models", default="models/sft")
    parser.add_argument("--dpo", default="models/dpo")
    parser.add_argument("--metrics", default="metrics/answers.json")
    parser.add_argument("--report", default="reports/answers.md")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    from hybridrag.answers.ask import chat_model_folder
    from hybridrag.answers.evaluation import evaluate_answers, write_answers_report
    from hybridrag.answers.generation import ChatGenerator
    from hybridrag.ingest.beir import read_beir
    from hybridrag.reporting import write_json
    from hybridrag.search.searcher import Searcher

    settings = params.answers
    folder = chat_model_folder(settings.chat_model, args.base_model, args.sft_models, args.dpo)
    generator = ChatGenerator.load(folder, args.base_model, settings.device)
    with Searcher(args.index, params.retrieval, params.fusion, device=settings.device,
                  reranker=args.reranker if settings.rerank else None,
                  rerank_depth=params.rerank.depth) as searcher:
        summary, answers, items = evaluate_answers(generator, searcher, read_beir(args.data),
                                                   params.eval_retrieval.split, settings)
    write_json(args.metrics, summary)
    write_answers_report(Path(args.report), summary, answers, items)
    print(f"eval_answers: {settings.chat_model}: {summary[settings.chat_model]}")


if __name__ == "__main__":
    run(main)
