"""The trained reranker on PyTorch, ONNX Runtime fp32 (what queries use on CPU) and ONNX
Runtime int8, in one run on one machine: milliseconds to score one query's candidates, how far
the scores move from PyTorch's, and nDCG@10 of the reranked candidates.

    python -m bench.rerank_runtime      # needs `make repro` first (data/index, models/reranker)

The queries are a seeded sample of the default corpus's held-out test queries; each query's
candidates are its top rerank.depth hybrid results (params.yaml's retrieval and fusion). The
runtimes take turns on every query; each query's time is its fastest of --rounds scorings.
Results: bench/results/rerank_runtime.json/.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hybridrag.atomic import atomic_write_text
from hybridrag.config import load_params
from hybridrag.evaluation.retrieval import select_queries
from hybridrag.ingest.beir import read_beir
from hybridrag.layout import INDEX, INGESTED, PARAMS, RERANKER
from hybridrag.reporting import describe_machine, markdown_table, write_json
from hybridrag.search.rerank import CONFIG
from hybridrag.search.searcher import Searcher
from support.rerank_runtime import compare_runtimes

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["runtime", "queries", "candidates", "ms_per_query_p50", "speed_vs_torch",
           "load_seconds", "max_score_difference", "same_order_as_torch", "ndcg@10"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=ROOT / PARAMS)
    parser.add_argument("--corpus", type=Path, default=ROOT / INGESTED, help="ingest's BEIR folder")
    parser.add_argument("--index", type=Path, default=ROOT / INDEX)
    parser.add_argument("--reranker", type=Path, default=ROOT / RERANKER)
    parser.add_argument("--queries", type=int, default=300, help="test queries sampled")
    parser.add_argument("--rounds", type=int, default=3, help="timed scorings per query and runtime")
    parser.add_argument("--seed", type=int, default=13, help="picks the queries")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    from sentence_transformers import CrossEncoder

    params = load_params(args.params)
    dataset = read_beir(args.corpus)
    qrels = dataset.qrels["test"]
    queries = select_queries(dataset.queries, qrels, args.queries, args.seed)
    weight = json.loads((args.reranker / CONFIG).read_text())["weight"]
    model = CrossEncoder(str(args.reranker), device="cpu")
    with Searcher(args.index, params.retrieval, params.fusion, device="cpu") as searcher:
        rows = compare_runtimes(searcher, model, weight, queries, qrels, params.rerank.depth,
                                args.rounds)
    print(*rows, sep="\n")
    summary = {"machine": describe_machine(), "reranker": str(args.reranker.relative_to(ROOT))
               if args.reranker.is_relative_to(ROOT) else str(args.reranker), "weight": weight,
               "rounds": args.rounds, "seed": args.seed, "rows": rows}
    write_json(args.out / "rerank_runtime.json", summary)
    atomic_write_text(args.out / "rerank_runtime.md", (
        "# The reranker on PyTorch, ONNX Runtime fp32 and ONNX Runtime int8\n\n"
        f"Machine: {summary['machine']} (CPU). Written by `python -m bench.rerank_runtime` "
        "(`make bench-rerank`), every row in one run. Each of the queries (held-out test "
        f"queries of the default corpus) scores its top {params.rerank.depth} hybrid results; "
        f"the runtimes take turns on every query, and a query's time is its fastest of "
        f"{args.rounds}. Score differences and order are against PyTorch's; nDCG@10 ranks the "
        f"candidates by the trained interpolation (weight {weight}). On CPU, queries use ONNX "
        "Runtime fp32 (`search.rerank.runnable`); int8 is measured, not used.\n\n"
        + markdown_table(COLUMNS, [[row[c] for c in COLUMNS] for row in rows]) + "\n"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
