"""Retrieval quality on a BEIR benchmark (SciFact, Cranfield) with the pipeline's own code.

    python -m bench.beir_retrieval --dataset scifact

Reads ../shared/benchmarks/<dataset> through the BEIR source (never copied into the repo),
indexes it with the settings of params.yaml (chunk, embed, build_db, retrieval), and scores
bm25, dense and both fusion methods on the test split. Where the benchmark has a train
split, the fusion setting is also chosen on train by the same sweep eval_retrieval runs and
then scored once on test ("hybrid_tuned_on_train"). Writes bench/results/<dataset>.json and .md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from hybridrag.atomic import atomic_write_text
from hybridrag.config import Params, load_params
from hybridrag.evaluation.retrieval import (
    CUTOFF,
    best_sweep_setting,
    evaluate_modes,
    evaluate_setting,
    evaluation_depth,
    fusion_sweep,
    retrieve_candidates,
    select_queries,
    sweep_table,
)
from hybridrag.pipeline import index_documents
from hybridrag.reporting import describe_machine, markdown_table, metrics_table, write_json
from hybridrag.search.searcher import Searcher
from support.benchmarks import benchmark_folder, benchmark_parser, read_benchmark

ROOT = Path(__file__).resolve().parents[1]

PUBLISHED = {  # nDCG@10 on the test split, from ../shared/NOTES.md and the BEIR/MTEB papers
    "scifact": {"bm25 (Pyserini / bm25s)": "0.665-0.680", "all-MiniLM-L6-v2 (MTEB)": "0.645",
                "BM25 + MiniLM, RRF": "0.713", "BM25 + MiniLM, min-max convex": "0.734"},
    "cranfield": {},
}


def main(argv: list[str] | None = None) -> int:
    args = benchmark_parser(__doc__, ROOT, "where the benchmark's index is built (git-ignored)"
                            ).parse_args(argv)
    source = benchmark_folder(args)
    if source is None:
        return 0
    params = load_params(args.params)
    dataset, skipped = read_benchmark(source)

    start = time.perf_counter()
    manifest = index_documents(args.work / args.dataset, dataset.documents, params.chunk,
                               params.embed, params.build_db, progress=True)
    index_seconds = time.perf_counter() - start

    results: dict[str, Any] = {}
    depth = evaluation_depth(params)
    retrieval = params.retrieval.updated(embedding="base")  # fine-tuning: bench/beir_learning.py
    with Searcher(args.work / args.dataset, retrieval, params.fusion) as searcher:
        test_qrels = dataset.qrels["test"]
        test_queries = select_queries(dataset.queries, test_qrels, None)
        test = retrieve_candidates(searcher, test_queries, depth)
        results["test"], _, _ = evaluate_modes(test, test_qrels, params.fusion,
                                               params.eval_retrieval.k_values)
        results["test_sweep"] = fusion_sweep(test, test_qrels, params.fusion,
                                             params.eval_retrieval)
        if "train" in dataset.qrels:
            train_qrels = dataset.qrels["train"]
            train = retrieve_candidates(searcher, select_queries(dataset.queries, train_qrels,
                                                                 None), depth)
            tuned = best_sweep_setting(
                fusion_sweep(train, train_qrels, params.fusion, params.eval_retrieval),
                params.fusion)
            results["tuned_on_train"] = tuned.model_dump()
            results["test"]["hybrid_tuned_on_train"], _, _ = evaluate_setting(
                test, test_qrels, "hybrid", tuned, params.eval_retrieval.k_values)
    summary = {
        "dataset": args.dataset,
        "documents": len(dataset.documents),
        "skipped_rows": skipped,
        "test_queries": len(test_queries),
        "chunks": manifest["chunks"],
        "settings": {"chunk": params.chunk.model_dump(), "embed": params.embed.model_dump(),
                     "build_db": params.build_db.model_dump(), "retrieval": retrieval.model_dump(),
                     "fusion": params.fusion.model_dump()},
        "index_seconds": round(index_seconds, 1),
        "bm25_ms_per_query": round(1000 * test.bm25_seconds / len(test_queries), 2),
        "dense_ms_per_query_batched": round(1000 * test.dense_seconds / len(test_queries), 2),
        "machine": describe_machine(),
        **results,
    }
    write_json(args.out / f"{args.dataset}.json", summary)
    atomic_write_text(args.out / f"{args.dataset}.md", report(summary, params))
    print(metrics_table(results["test"], [f"ndcg@{CUTOFF}", f"mrr@{CUTOFF}", "recall@100"]))
    return 0


def report(summary: dict[str, Any], params: Params) -> str:
    names = [f"ndcg@{CUTOFF}", f"mrr@{CUTOFF}", "recall@10", "recall@100", "hit_rate@10"]
    lines = [
        f"# {summary['dataset']}: retrieval with hybridrag",
        "",
        f"{summary['documents']} documents ({summary['chunks']} chunks), "
        f"{summary['test_queries']} test queries; skipped input rows: "
        f"{summary['skipped_rows']['skipped_rows']}. Settings from params.yaml: chunks of "
        f"{params.chunk.size} words (overlap {params.chunk.overlap}), `{params.embed.model}`, "
        f"FAISS {params.build_db.faiss_index}, BM25 title weight "
        f"{params.retrieval.bm25_title_weight:g}, depth {params.retrieval.depth}; `hybrid` is "
        f"fusion.method={params.fusion.method}.",
        "",
        metrics_table(summary["test"], names),
    ]
    if "tuned_on_train" in summary:
        tuned = summary["tuned_on_train"]
        setting = (f"rrf k={tuned['rrf_k']:g}" if tuned["method"] == "rrf" else
                   f"weighted {tuned['normalization']}, dense weight {tuned['dense_weight']:g}")
        lines += [f"`hybrid_tuned_on_train`: the fusion setting with the best nDCG@10 on the "
                  f"train queries ({setting}), scored once on test.", ""]
    if PUBLISHED.get(summary["dataset"]):
        lines += ["Published nDCG@10 on the same test split:", "",
                  markdown_table(["system", "nDCG@10"], list(PUBLISHED[summary["dataset"]].items()))]
    lines += [
        f"Time ({summary['machine']}): index built in {summary['index_seconds']} s; BM25 "
        f"{summary['bm25_ms_per_query']} ms/query; dense {summary['dense_ms_per_query_batched']} "
        "ms/query (batched encode + search).",
        "",
        "Fusion sweep on test (for reading, not for choosing):",
        "",
        sweep_table(summary["test_sweep"]),
        f"Reproduce: `make bench-beir` or `python -m bench.beir_retrieval --dataset "
        f"{summary['dataset']}`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
