"""Stage train_reranker: a cross-encoder trained on the corpus's pairs with hard negatives from the
hybrid retriever, and on natural questions (the reading file's training articles: each question
with its paragraph, other paragraphs of its article as negatives), so that it transfers to the
way people ask about other documents; its share in the final score is the one whose smallest
validation nDCG@10 gain over the first stage, across the corpus's validation pairs and the
reading validation articles' questions (their paragraphs indexed as a corpus of their own), is
largest (learning.reranker.choose_weight)."""

from __future__ import annotations

from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--index", required=True, help="mines the hard negatives")
    parser.add_argument("--reading", required=True,
                        help="SQuAD-format file (sft.chatml.reading.path): natural questions")
    parser.add_argument("--out", required=True)
    parser.add_argument("--checkpoints", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args(argv)
    params = load_params(args.params)
    from hybridrag.learning.pairs import read_pairs
    from hybridrag.learning.reranker import save_reranker, train_reranker
    from hybridrag.reporting import write_json
    from hybridrag.search.searcher import Searcher
    from hybridrag.sft.reading import reading_articles
    from hybridrag.sft.reading_pairs import reading_queries, reading_validation

    settings = params.rerank
    # whole paragraphs: the cross-encoder cuts (query, passage) at rerank.max_length itself
    articles, _ = reading_articles(params.sft.chatml.reading.updated(path=args.reading),
                                   params.sft.chatml.seed, str)
    natural = reading_queries(articles["train"], settings.reading_queries, settings.negatives,
                              settings.seed)
    with (Searcher(args.index, params.retrieval, settings.first_stage) as searcher,
          reading_validation(articles["validation"], settings.reading_validation, settings.seed,
                             params) as extra_validation):
        reranker, record = train_reranker(read_pairs(Path(args.pairs) / "train.jsonl"),
                                          read_pairs(Path(args.pairs) / "validation.jsonl"),
                                          searcher, params.embed.model, settings,
                                          Path(args.checkpoints), natural, extra_validation)
    save_reranker(reranker.model, Path(args.out), record)
    write_json(args.metrics, {k: v for k, v in record.items() if not k.startswith("sweep")})
    if not record["trained"]:
        print(f"train_reranker: {record['reason']} -> {args.out}")
        return
    print(f"train_reranker: weight {record['weight']} -> validation nDCG@10 "
          f"{record['validation_ndcg@10_reranked']:.4f} (first stage "
          f"{record['validation_ndcg@10_first_stage']}), {record['rerank_ms_per_query']} ms/query "
          f"-> {args.out}")


if __name__ == "__main__":
    run(main)
