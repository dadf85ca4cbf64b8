"""The pipeline's trained reranker on corpora it never saw: hybrid against hybrid + rerank on a
shared BEIR benchmark's test queries (SciFact, Cranfield), as the product would serve a new
collection of documents: indexed with the pipeline's fine-tuned embedder (retrieval.embedding),
the reranker at the share train_reranker chose, nothing tuned on the benchmark.

    python -m bench.rerank_transfer --dataset scifact   # needs `make repro` first (models/)

Reads ../shared/benchmarks/<dataset> (never copied in; SKIPPED when absent). Every test query
is reranked; the per-query nDCG@10 difference has a seeded 95% bootstrap interval. Writes
bench/results/rerank_transfer_<dataset>.json and .md.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from hybridrag.atomic import atomic_write_text
from hybridrag.config import load_params
from hybridrag.evaluation.retrieval import (
    CUTOFF,
    RERANK_INPUT,
    RERANKED,
    evaluate_index,
    select_queries,
)
from hybridrag.layout import RERANKER
from hybridrag.metrics.bootstrap import mean_difference
from hybridrag.pipeline import index_documents
from hybridrag.reporting import describe_machine, metrics_table, write_json
from hybridrag.search.rerank import CONFIG
from support.benchmarks import benchmark_folder, benchmark_parser, read_benchmark

ROOT = Path(__file__).resolve().parents[1]
FINETUNED_EMBEDDER = "models/embed"  # finetune_embed
METRIC = f"ndcg@{CUTOFF}"
RESAMPLES = 2000


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__, ROOT, "where the benchmark's index is built (git-ignored)")
    parser.add_argument("--reranker", type=Path, default=ROOT / RERANKER)
    parser.add_argument("--embedder", type=Path, default=ROOT / FINETUNED_EMBEDDER,
                        help="the embedding set retrieval.embedding names when it is not base")
    args = parser.parse_args(argv)
    source = benchmark_folder(args)
    if source is None:
        return 0
    params = load_params(args.params)
    dataset, skipped = read_benchmark(source)
    name = params.retrieval.embedding
    embedder = params.embed.model if name == "base" else str(args.embedder)
    index = args.work / f"{args.dataset}_{name}"
    start = time.perf_counter()
    index_documents(index, dataset.documents, params.chunk, params.embed.updated(model=embedder),
                    params.build_db, progress=True, name=name)
    index_seconds = time.perf_counter() - start
    load = os.getloadavg()[0]  # other work on the machine makes the seconds below longer
    qrels = dataset.qrels["test"]
    queries = select_queries(dataset.queries, qrels, None)
    evaluation = evaluate_index(index, queries, qrels, params.updated(
        eval_retrieval=params.eval_retrieval.updated(rerank_queries=None)), reranker=args.reranker)
    per_query = evaluation.per_query
    differences = [per_query[RERANKED][q][METRIC] - per_query[RERANK_INPUT][q][METRIC]
                   for q in per_query[RERANK_INPUT]]
    summary = {
        "dataset": args.dataset, "documents": len(dataset.documents), "skipped_rows": skipped,
        "test_queries": len(queries), "reranked_queries": len(differences),
        "embedding": name, "embedder": embedder, "fusion": params.fusion.model_dump(),
        "reranker_weight": json.loads((args.reranker / CONFIG).read_text())["weight"],
        "rerank_depth": params.rerank.depth,
        "modes": {mode: evaluation.means[mode] for mode in ("bm25", "dense", RERANK_INPUT,
                                                             RERANKED)},
        "rerank_minus_hybrid": mean_difference(differences, RESAMPLES, seed=0),
        "queries_better": sum(d > 0 for d in differences),
        "queries_worse": sum(d < 0 for d in differences),
        "index_seconds": round(index_seconds, 1),
        "rerank_ms_per_query": round(evaluation.timing[
            f"rerank top {params.rerank.depth} (cross-encoder)"], 1),
        "machine": describe_machine(), "torch_threads": torch.get_num_threads(),
        "load_average_1min_after_indexing": round(load, 2),
    }
    write_json(args.out / f"rerank_transfer_{args.dataset}.json", summary)
    atomic_write_text(args.out / f"rerank_transfer_{args.dataset}.md", report(summary))
    print(report(summary))
    return 0


def report(summary: dict[str, Any]) -> str:
    change = summary["rerank_minus_hybrid"]
    return "\n".join([
        f"# The pipeline's reranker on {summary['dataset']}, a corpus it never saw",
        "",
        f"{summary['documents']} documents, {summary['test_queries']} test queries, indexed with "
        f"the `{summary['embedding']}` embedding set ({summary['embedder']}); `hybrid` is the "
        f"product's fusion ({summary['fusion']['method']}); the reranker rescores the top "
        f"{summary['rerank_depth']} at the share train_reranker chose on the default corpus "
        f"and reading validation ({summary['reranker_weight']:g}). Nothing was tuned here.",
        "",
        metrics_table(summary["modes"], [METRIC, f"mrr@{CUTOFF}", "recall@10", "hit_rate@3"]),
        "",
        f"hybrid + rerank minus hybrid, {METRIC} per query: {change['difference']:+.4f} (95% "
        f"bootstrap interval {change['ci95'][0]:+.4f} to {change['ci95'][1]:+.4f}, "
        f"{change['items']} queries; {summary['queries_better']} better, "
        f"{summary['queries_worse']} worse).",
        "",
        f"Time ({summary['machine']}, {summary['torch_threads']} torch thread(s), load average "
        f"{summary['load_average_1min_after_indexing']} after indexing: over the CPU count, "
        f"other work shared the machine): index {summary['index_seconds']} s, rerank "
        f"{summary['rerank_ms_per_query']} ms per query.",
        "",
        f"Reproduce: `make bench-rerank-transfer` or `python -m bench.rerank_transfer "
        f"--dataset {summary['dataset']}`.",
        "",
    ])


if __name__ == "__main__":
    sys.exit(main())
