"""Stage eval_retrieval: score bm25, dense and hybrid retrieval on held-out queries, with ablations."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from hybridrag.atomic import atomic_write_text
from hybridrag.config import EvalParams, FusionParams, Params, load_params
from hybridrag.evaluation import (
    CUTOFF,
    RERANK_INPUT,
    RERANKED,
    evaluate_modes,
    evaluate_rerank,
    fusion_sweep,
    per_query_rows,
    retrieve_candidates,
    select_queries,
    side_by_side,
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
    parser.add_argument("--reranker", help="a train_reranker folder: adds the hybrid+rerank mode")
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
    depth = evaluation_depth(params)
    with Searcher(args.index, params.retrieval, params.fusion, reranker=args.reranker,
                  rerank_depth=params.rerank.depth) as searcher:
        candidates = retrieve_candidates(searcher, queries, depth, settings.batch_size)
        manifest = searcher.manifest
        means, runs, per_query = evaluate_modes(candidates, qrels, params.fusion, settings.k_values)
        timing = {"bm25": 1000 * candidates.bm25_seconds / max(len(queries), 1),
                  "dense (encode + search, batched)":
                      1000 * candidates.dense_seconds / max(len(queries), 1)}
        if args.reranker and queries:
            subset = select_queries(queries, qrels, settings.rerank_queries)
            extra = evaluate_rerank(searcher, candidates, subset, qrels, params.fusion,
                                    settings.k_values)
            merge(means, runs, per_query, extra[:3])
            timing[f"rerank top {params.rerank.depth} (cross-encoder)"] = extra[3]
    for name in sorted(set(manifest["embeddings"]) - {params.retrieval.embedding}):
        other = replace(params.retrieval, embedding=name)
        with Searcher(args.index, other, params.fusion) as searcher:
            merge(means, runs, per_query, side_by_side(
                retrieve_candidates(searcher, queries, depth, settings.batch_size), qrels,
                params.fusion, settings.k_values, name))
    sweep = fusion_sweep(candidates, qrels, params.fusion, settings)

    write_json(args.metrics, {"split": settings.split, "queries": len(queries), **means})
    write_jsonl(args.per_query, per_query_rows(queries, qrels, runs, per_query))
    write_plots(Path(args.reports), means, sweep, settings, len(queries))
    atomic_write_text(Path(args.reports) / "retrieval_metrics.md",
                      report(params, manifest, len(queries), means, sweep, timing,
                             gains(means, params.retrieval.embedding)))
    top_k = max(settings.k_values)
    for mode, values in means.items():
        print(f"{mode:>24}: nDCG@{CUTOFF} {values[f'ndcg@{CUTOFF}']:.4f}  "
              f"recall@{top_k} {values[f'recall@{top_k}']:.4f}")


def merge(means: dict, runs: dict, per_query: dict, extra: tuple) -> None:  # type: ignore[type-arg]
    """Add another evaluation's modes to the collected (means, runs, per_query)."""
    for collected, new in zip((means, runs, per_query), extra, strict=True):
        collected.update(new)


def gains(means: dict[str, dict[str, float]], served: str) -> list[list[Any]]:
    """What each learned step gained in nDCG@10: base -> fine-tuned embedder (dense, hybrid),
    and hybrid -> hybrid with its top candidates reranked (on the reranked queries)."""
    metric = f"ndcg@{CUTOFF}"
    pairs = []
    if served == "finetuned" and "dense@base" in means:
        pairs += [("fine-tuned embedder, dense", "dense@base", "dense"),
                  ("fine-tuned embedder, hybrid", "hybrid@base", "hybrid")]
    elif served == "base" and "dense@finetuned" in means:
        pairs += [("fine-tuned embedder, dense", "dense", "dense@finetuned"),
                  ("fine-tuned embedder, hybrid", "hybrid", "hybrid@finetuned")]
    if RERANKED in means:
        pairs.append(("cross-encoder rerank", RERANK_INPUT, RERANKED))
    rows = []
    for step, before, after in pairs:
        old, new = means[before][metric], means[after][metric]
        rows.append([step, f"`{before}` {old:.4f}", f"`{after}` {new:.4f}",
                     f"{100 * (new - old) / old:+.1f}%" if old else "n/a"])
    return rows


def evaluation_depth(params: Params) -> int:
    """Candidates per retriever: the configured depth, and at least the largest k evaluated."""
    return max(params.retrieval.depth, max(params.eval_retrieval.k_values))


def write_plots(reports: Path, means: dict[str, dict[str, float]], sweep: list[dict[str, Any]],
                settings: EvalParams, n_queries: int) -> None:
    """Recall@k per mode and nDCG@10 per dense weight, as CSV (for dvc plots) and PNG."""
    means = {mode: values for mode, values in means.items()
             if mode not in (RERANK_INPUT, RERANKED)}  # the modes scored on all queries
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
           timing: dict[str, float], learned: list[list[Any]]) -> str:
    """reports/retrieval_metrics.md: the metrics table, the learned gains, the fusion ablation
    and timings."""
    embeddings = ", ".join(f"{name} `{entry['model']}`" for name, entry in manifest["embeddings"].items())
    return "\n".join([
        "# Retrieval evaluation",
        "",
        f"{n_queries} queries of split `{params.eval_retrieval.split}`; index of "
        f"{manifest['documents']} documents / {manifest['chunks']} chunks; embedding sets: "
        f"{embeddings}; dense retrieval uses `{params.retrieval.embedding}` (modes named "
        f"`mode@set` use another set); FAISS `{manifest['faiss_index']}`; each "
        f"retriever hands its top {evaluation_depth(params)} documents to fusion. `hybrid` is "
        f"the configured fusion: {describe_fusion(params.fusion)}. `{RERANKED}` rescores the "
        f"top {params.rerank.depth} hybrid results with the trained cross-encoder, on a seeded "
        f"subset of queries (`{RERANK_INPUT}` is plain hybrid on that subset).",
        "",
        metrics_table(means, list(next(iter(means.values()), {}))),
        "![Recall@k per mode](recall_at_k.png)",
        "",
        f"## What each learned step gained (nDCG@{CUTOFF})",
        "",
        markdown_table(["step", "before", "after", "change"], learned) if learned
        else "No fine-tuned embeddings or reranker were evaluated.",
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
