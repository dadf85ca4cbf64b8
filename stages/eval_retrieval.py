"""Stage eval_retrieval: score bm25, dense and hybrid retrieval on held-out queries, with ablations."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

from hybridrag.backends import open_store
from hybridrag.config import load_params
from hybridrag.evaluation.report import write_evaluation, write_unjudged
from hybridrag.evaluation.retrieval import CUTOFF, evaluate_index, select_queries
from hybridrag.ingest.beir import read_beir
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", required=True, help="BEIR folder with queries and qrels")
    parser.add_argument("--index", required=True)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--reports", required=True, help="folder for the markdown, CSV and PNG")
    parser.add_argument("--per-query", required=True)
    parser.add_argument("--reranker", help="a train_reranker folder: adds the hybrid+rerank mode")
    parser.add_argument("--local", action="store_true",
                        help="read the index from its folder whatever store.backend says (an "
                             "index publish_postgres does not publish, such as index_folder's)")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    settings = params.eval_retrieval
    dataset = read_beir(args.data)
    qrels = dataset.qrels.get(settings.split, {})
    queries = select_queries(dataset.queries, qrels, settings.max_queries, settings.seed)
    if not queries:
        note = write_unjudged(params, Path(args.metrics), Path(args.per_query), Path(args.reports),
                              sorted(dataset.qrels))
        print(f"warning: {note}", file=sys.stderr)
        return
    evaluation = evaluate_index(args.index, queries, qrels, params, args.reranker,
                                open_store=None if args.local
                                else partial(open_store, params.store, args.index))
    write_evaluation(evaluation, params, None if args.local else params.store, Path(args.metrics),
                     Path(args.per_query), Path(args.reports))
    top_k = max(settings.k_values)
    for mode, values in evaluation.means.items():
        print(f"{mode:>24}: nDCG@{CUTOFF} {values[f'ndcg@{CUTOFF}']:.4f}  "
              f"recall@{top_k} {values[f'recall@{top_k}']:.4f}")


if __name__ == "__main__":
    run(main)
