"""Stage train_reranker: a cross-encoder trained on the pairs with hard negatives from the hybrid
retriever; its share in the final score is chosen on the validation pairs."""

from __future__ import annotations

from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--index", required=True, help="mines the hard negatives")
    parser.add_argument("--out", required=True)
    parser.add_argument("--checkpoints", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args(argv)
    params = load_params(args.params)
    from hybridrag.learning.pairs import read_pairs
    from hybridrag.learning.reranker import save_reranker, train_reranker
    from hybridrag.reporting import write_json
    from hybridrag.search.searcher import Searcher

    with Searcher(args.index, params.retrieval, params.rerank.first_stage) as searcher:
        reranker, record = train_reranker(read_pairs(Path(args.pairs) / "train.jsonl"),
                                          read_pairs(Path(args.pairs) / "validation.jsonl"),
                                          searcher, params.embed.model, params.rerank,
                                          Path(args.checkpoints))
    save_reranker(reranker.model, Path(args.out), record)
    write_json(args.metrics, {k: v for k, v in record.items() if k != "sweep"})
    if not record["trained"]:
        print(f"train_reranker: {record['reason']} -> {args.out}")
        return
    print(f"train_reranker: weight {record['weight']} -> validation nDCG@10 "
          f"{record['validation_ndcg@10_reranked']:.4f} (first stage "
          f"{record['validation_ndcg@10_first_stage']}), {record['rerank_ms_per_query']} ms/query "
          f"-> {args.out}")


if __name__ == "__main__":
    run(main)
