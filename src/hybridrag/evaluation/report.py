"""The eval_retrieval outputs: metrics JSON, per-query rows, the markdown report, CSV and PNG plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hybridrag.atomic import atomic_write_text
from hybridrag.config import EvalParams, FusionParams, Params, StoreParams
from hybridrag.evaluation.retrieval import (
    CUTOFF,
    RERANK_INPUT,
    RERANKED,
    RetrievalEvaluation,
    evaluation_depth,
    per_query_rows,
    sweep_table,
)
from hybridrag.jsonl import write_jsonl
from hybridrag.reporting import markdown_table, metrics_table, save_line_plot, write_csv, write_json


def write_evaluation(evaluation: RetrievalEvaluation, params: Params, store: StoreParams | None,
                     metrics: Path, per_query: Path, reports: Path) -> None:
    """Every output of eval_retrieval, each written atomically; `store`: the backend the index
    was read through (None: its folder)."""
    write_json(metrics, {"split": params.eval_retrieval.split, "queries": len(evaluation.queries),
                         **evaluation.means})
    write_jsonl(per_query, per_query_rows(evaluation.queries, evaluation.qrels, evaluation.runs,
                                          evaluation.per_query))
    write_plots(reports, evaluation.means, evaluation.sweep, params.eval_retrieval,
                len(evaluation.queries))
    atomic_write_text(reports / "retrieval_metrics.md",
                      report(params, store, evaluation.manifest, len(evaluation.queries),
                             evaluation.means,
                             evaluation.sweep, evaluation.timing,
                             gains(evaluation.means, params.retrieval.embedding)))


def write_unjudged(params: Params, metrics: Path, per_query: Path, reports: Path,
                   splits: list[str]) -> str:
    """eval_retrieval's outputs when the split has no judged queries (a folder of files has
    none): each says so instead of showing numbers. Returns the explanation."""
    split = params.eval_retrieval.split
    note = (f"No judged queries in split {split!r} (the corpus has judgements for: "
            f"{', '.join(splits) or 'none'}), so retrieval quality is not measured. A folder of "
            "files has no queries or relevance judgements: to measure retrieval on your documents, "
            "list questions with the files that answer them in a JSONL file and set "
            "ingest.questions to it (docs/your-documents.md). The synthetic "
            "questions of make_pairs are scored only where they choose models (validation "
            "nDCG@10 in metrics/finetune_embed.json and metrics/reranker.json, on synthetic pairs).")
    write_json(metrics, {"split": split, "queries": 0, "note": note})
    write_jsonl(per_query, [])
    write_plots(reports, {}, [], params.eval_retrieval, 0)
    atomic_write_text(reports / "retrieval_metrics.md", f"# Retrieval evaluation\n\n{note}\n")
    return note


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


def losses(learned: list[list[Any]]) -> list[str]:
    """A warning for each learned step in use that lowered nDCG on these queries, saying how to
    serve without it (a fine-tuned embedder that is not served needs none)."""
    advice = {"cross-encoder rerank": "`answers.rerank: false`, searches without `--rerank`",
              "fine-tuned embedder, hybrid": "`retrieval.embedding: base`"}
    return [f"**The {step} loses on these queries** ({before} -> {after}): serve without it "
            f"({advice[step]})." for step, before, after, change in learned
            if change.startswith("-") and step in advice and "@" not in after]


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


def describe_store(store: StoreParams | None, manifest: dict[str, Any]) -> str:
    if store is not None and store.backend == "postgres":
        return f"PostgreSQL + pgvector (dense: {store.postgres_dense})"
    return f"the index folder (SQLite FTS5 + FAISS `{manifest['faiss_index']}`)"


def report(params: Params, store: StoreParams | None, manifest: dict[str, Any], n_queries: int,
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
        f"`mode@set` use another set); read from {describe_store(store, manifest)}; each "
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
        *losses(learned),
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

