"""Stage eval_retrieval: score bm25, dense and hybrid retrieval on held-out queries, with ablations."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hybridrag.atomic import atomic_write_text
from hybridrag.config import EvalParams, FusionParams, Params, load_params
from hybridrag.evaluation import (
    CUTOFF,
    evaluate_modes,
    fusion_sweep,
    per_query_rows,
    retrieve_candidates,
    select_queries,
    sweep_table,
)
from hybridrag.ingest.beir import read_beir
from hybridrag.jsonl import write_jsonl
from hybridrag.reporting import markdown_table, metrics_table, save_line_plot, write_csv, write_json
from hybridrag.search.searcher import Searcher
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", default="data/ingested", help="BEIR folder with queries and qrels")
    parser.add_argument("--index", default="data/index")
    parser.add_argument("--metrics", default="metrics/retrieval.json")
    parser.add_argument("--reports", default="reports", help="folder for the markdown, CSV and PNG")
    parser.add_argument("--per-query", default="data/eval/per_query.jsonl")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    settings = params.eval_retrieval
    dataset = read_beir(args.data)
    qrels = dataset.qrels.get(settings.split, {})
    queries = select_queries(dataset.queries, qrels, settings.max_queries)
    if not queries:
        print(f"warning: no judged queries in split {settings.split!r} of {args.data} "
              f"(splits: {sorted(dataset.qrels) or 'none'}); metrics will be empty", file=sys.stderr)
    qrels = {q.query_id: qrels[q.query_id] for q in queries}
    with Searcher(args.index, params.retrieval, params.fusion) as searcher:
        candidates = retrieve_candidates(searcher, queries, evaluation_depth(params),
                                         settings.batch_size)
        manifest = searcher.manifest
    means, runs, per_query = evaluate_modes(candidates, qrels, params.fusion, settings.k_values)
    sweep = fusion_sweep(candidates, qrels, params.fusion, settings)

    write_json(args.metrics, {"split": settings.split, "queries": len(queries), **means})
    write_jsonl(args.per_query, per_query_rows(queries, qrels, runs, per_query))
    write_plots(Path(args.reports), means, sweep, settings, len(queries))
    timing = {"bm25": 1000 * candidates.bm25_seconds / max(len(queries), 1),
              "dense (encode + search, batched)":
                  1000 * candidates.dense_seconds / max(len(queries), 1)}
    atomic_write_text(Path(args.reports) / "retrieval_metrics.md",
                      report(params, manifest, len(queries), means, sweep, timing))
    top_k = max(settings.k_values)
    for mode, values in means.items():
        print(f"{mode:>16}: nDCG@{CUTOFF} {values[f'ndcg@{CUTOFF}']:.4f}  "
              f"recall@{top_k} {values[f'recall@{top_k}']:.4f}")


def evaluation_depth(params: Params) -> int:
    """Candidates per retriever: the configured depth, and at least the largest k evaluated."""
    return max(params.retrieval.depth, max(params.eval_retrieval.k_values))


def write_plots(reports: Path, means: dict[str, dict[str, float]], sweep: list[dict[str, Any]],
                settings: EvalParams, n_queries: int) -> None:
    """Recall@k per mode and nDCG@10 per dense weight, as CSV (for dvc plots) and PNG."""
    recall_rows = [{"k": k, **{mode: values[f"recall@{k}"] for mode, values in means.items()}}
                   for k in settings.k_values]
    write_csv(reports / "recall_at_k.csv", recall_rows)
    save_line_plot(reports / "recall_at_k.png", list(settings.k_values),
                   {mode: [row[mode] for row in recall_rows] for mode in means},
                   f"Recall@k on {n_queries} {settings.split} queries", "k", "recall", log_x=True)
    normalizations = ("minmax", "zscore")
    curve = [{"dense_weight": weight,
              **{norm: next(r[f"ndcg@{CUTOFF}"] for r in sweep
                            if r["normalization"] == norm and r["dense_weight"] == weight)
                 for norm in normalizations}}
             for weight in settings.sweep_dense_weights] if sweep else []
    write_csv(reports / "fusion_sweep.csv", curve)
    save_line_plot(reports / "fusion_sweep.png", list(settings.sweep_dense_weights),
                   {f"weighted, {norm}": [row[norm] for row in curve] for norm in normalizations}
                   if curve else {},
                   f"Weighted fusion: nDCG@{CUTOFF} against dense weight",
                   "dense weight (BM25 = 1 - w)", f"nDCG@{CUTOFF}")


def describe_fusion(fusion: FusionParams) -> str:
    if fusion.method == "rrf":
        return f"rrf (k={fusion.rrf_k:g})"
    return f"weighted ({fusion.normalization}, dense weight {fusion.dense_weight:g})"


def report(params: Params, manifest: dict[str, Any], n_queries: int,
           means: dict[str, dict[str, float]], sweep: list[dict[str, Any]],
           timing: dict[str, float]) -> str:
    """reports/retrieval_metrics.md: the metrics table, the fusion ablation and timings."""
    return "\n".join([
        "# Retrieval evaluation",
        "",
        f"{n_queries} queries of split `{params.eval_retrieval.split}`; index of "
        f"{manifest['documents']} documents / {manifest['chunks']} chunks; embeddings "
        f"`{manifest['embedding']['model']}`; FAISS `{manifest['faiss_index']}`; each "
        f"retriever hands its top {evaluation_depth(params)} documents to fusion. `hybrid` is "
        f"the configured fusion: {describe_fusion(params.fusion)}.",
        "",
        metrics_table(means, list(next(iter(means.values()), {}))),
        "![Recall@k per mode](recall_at_k.png)",
        "",
        "## Fusion ablation (same candidates, fusion setting varied)",
        "",
        sweep_table(sweep),
        "![nDCG@10 against dense weight](fusion_sweep.png)",
        "",
        "## Time per query (this machine)",
        "",
        markdown_table(["retriever", "ms/query"], [[k, v] for k, v in timing.items()]),
        "Reproduce: `make repro` (or `dvc repro eval_retrieval`); try a setting with "
        "`dvc exp run -S fusion.method=rrf` and compare with `dvc metrics diff`.",
        "",
    ])


if __name__ == "__main__":
    run(main)
