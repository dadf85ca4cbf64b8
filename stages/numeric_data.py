"""Stage numeric_data: questions whose answer is a number, as ChatML rows with a target.

The default source, corpus_years, asks the years the default corpus's Wikidata descriptions give
(births, deaths, releases) and, with numeric.data.in_text, years blanked in its articles'
sentences, split by document as the grounded conversations are. Each training row's prompt
carries one context of numeric.context.train (seeded): nothing, the index's retrieved sources,
solved training questions found by BM25 or by the query encoder, or sources and examples; every
test question is written once per context of numeric.context.evaluate. The messages source
reads a JSONL file of conversations whose last reply holds the number (their own prompts).
"""

from __future__ import annotations

from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", required=True, help="corpus_years: queries and qrels")
    parser.add_argument("--index", required=True,
                        help="corpus_years: retrieves the sources; its query encoder finds examples")
    parser.add_argument("--reranker", required=True,
                        help="reranks the sources when numeric.context.rerank is set")
    parser.add_argument("--base-model", required=True, help="its tokenizer cuts the sources")
    parser.add_argument("--out", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args(argv)
    params = load_params(args.params)
    from hybridrag.numeric.data import corpus_rows, file_rows, write_numeric_data

    settings, context = params.numeric.data, params.numeric.context
    if settings.source == "messages":
        rows, summary = file_rows(settings)
    else:
        from hybridrag.answers.ask import as_sources
        from hybridrag.answers.prompt import token_trimmer
        from hybridrag.chat.models import load_tokenizer
        from hybridrag.ingest.beir import read_beir
        from hybridrag.search.searcher import Searcher

        trim = token_trimmer(load_tokenizer(args.base_model), context.source_tokens)
        with Searcher(Path(args.index), params.retrieval, params.rerank.first_stage,
                      device=params.numeric.train.device,
                      reranker=Path(args.reranker) if context.rerank else None,
                      rerank_depth=params.rerank.depth) as searcher:
            rows, summary = corpus_rows(settings, context, read_beir(args.data), lambda question: (
                as_sources(searcher, searcher.search(question, k=context.sources,
                                                     rerank=context.rerank), trim)),
                searcher.encode_queries)
    write_numeric_data(rows, summary, Path(args.out), Path(args.metrics))
    print(f"numeric_data: {settings.source} -> { {name: len(part) for name, part in rows.items()} } "
          f"rows -> {args.out}")


if __name__ == "__main__":
    run(main)
