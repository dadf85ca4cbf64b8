"""Stage train_reranker: a cross-encoder trained on the pairs with hard negatives from the hybrid
retriever; its share in the final score is chosen on the validation pairs."""

from __future__ import annotations

import random
import time
from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--pairs", default="data/pairs")
    parser.add_argument("--index", default="data/index", help="mines the hard negatives")
    parser.add_argument("--out", default="models/reranker")
    parser.add_argument("--checkpoints", default="checkpoints/reranker")
    parser.add_argument("--metrics", default="metrics/reranker.json")
    parser.add_argument("--validation-queries", type=int, default=300,
                        help="validation pairs used to choose the weight (default: %(default)s)")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    settings = params.rerank
    from hybridrag.pairs import read_pairs
    from hybridrag.reporting import write_json
    from hybridrag.rerank import Reranker, mine_examples, save_reranker, train_cross_encoder, weight_sweep
    from hybridrag.search.searcher import Searcher

    train = read_pairs(Path(args.pairs) / "train.jsonl")
    validation = read_pairs(Path(args.pairs) / "validation.jsonl")
    rng = random.Random(settings.seed)
    train = rng.sample(train, min(len(train), settings.max_queries or len(train)))
    validation = rng.sample(validation, min(len(validation), args.validation_queries))
    with Searcher(args.index, params.retrieval, settings.first_stage) as searcher:
        examples = mine_examples(searcher, train, settings.negatives)
        started = time.perf_counter()
        model = train_cross_encoder(examples, params.embed.model, settings, Path(args.checkpoints))
        seconds = time.perf_counter() - started
        sweep, latency = weight_sweep(Reranker(model, 0.0), searcher, validation, settings.depth,
                                      settings.weights)
    best = max(sweep, key=lambda row: (row["ndcg@10"], -row["weight"]))  # ties: the smaller share
    config = {"weight": best["weight"], "base_model": params.embed.model,
              "loss": settings.loss, "training_queries": len(train),
              "validation_queries": len(validation), "depth": settings.depth, "sweep": sweep}
    save_reranker(model, Path(args.out), config)
    metrics = {**{k: v for k, v in config.items() if k != "sweep"},
               "validation_ndcg@10_first_stage": next(r["ndcg@10"] for r in sweep if r["weight"] == 0.0)
               if 0.0 in settings.weights else None,
               "validation_ndcg@10_reranked": best["ndcg@10"], "train_seconds": round(seconds, 1),
               "rerank_ms_per_query": round(1000 * latency, 1)}
    write_json(args.metrics, metrics)
    print(f"train_reranker: weight {best['weight']} -> validation nDCG@10 {best['ndcg@10']:.4f} "
          f"(first stage {metrics['validation_ndcg@10_first_stage']}), "
          f"{metrics['rerank_ms_per_query']} ms/query -> {args.out}")


if __name__ == "__main__":
    run(main)
