"""Markdown sections against fixed word windows, on a folder of real Markdown documentation with
questions whose answer files are known; and the same documents published as HTML.

    python -m bench.markdown_sections [--folder F --questions Q] [--reranker models/reranker]

Default folder: the README files of the installed Python packages (the folder path's default,
hybridrag.package_docs: about 100 files, 1.3 MB, written by their projects, not here), with the
50 natural questions of data/package_docs_questions.jsonl (each names the README that answers
it; written before any result was seen). Both variants index the same documents with
the settings of params.yaml and the base embedder: "sections" as ingest reads Markdown (every
chunk in one section, its heading path indexed and embedded after the title), "fixed windows"
with the sections dropped (windows run across headings, titles alone), as before sections were
kept; "HTML sections": each file rendered to HTML by markdown-it (as a static site generator
publishes it) and read by the HTML reader (trafilatura's main content, its <h1>-<h6> starting
sections), with how many of the Markdown reader's heading paths it finds. Writes
bench/results/markdown_sections.json and .md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from hybridrag.atomic import atomic_write_text
from hybridrag.config import load_params
from hybridrag.evaluation.retrieval import evaluate_index
from hybridrag.ingest import load_dataset
from hybridrag.jsonl import RowPolicy
from hybridrag.layout import PARAMS
from hybridrag.package_docs import write_package_readmes
from hybridrag.pipeline import index_documents
from hybridrag.reporting import describe_machine, metrics_table, write_json
from support.html_twin import html_twin, shared_heading_paths

ROOT = Path(__file__).resolve().parents[1]
METRICS = ["hit_rate@1", "hit_rate@3", "mrr@10", "ndcg@10", "recall@10"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, help="Markdown files (default: package READMEs)")
    parser.add_argument("--questions", type=Path,
                        default=ROOT / "data" / "package_docs_questions.jsonl")
    parser.add_argument("--reranker", type=Path, help="also score hybrid + this cross-encoder")
    parser.add_argument("--params", type=Path, default=ROOT / PARAMS)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work" / "markdown",
                        help="where the folder and both indexes are built (git-ignored)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    params = load_params(args.params)
    folder = args.folder
    if folder is None:
        folder = args.work / "package_readmes"
        written = write_package_readmes(folder, ROOT / "requirements.txt",
                                        params.folder.example_min_chars,
                                        params.folder.example_min_headings)
        print(f"markdown_sections: {written} package READMEs -> {folder}")
    ingest = params.ingest.updated(source="files", path=str(folder), include=("*.md",),
                                   questions=str(args.questions), on_error="raise")
    dataset = load_dataset(ingest, RowPolicy("raise"))
    qrels = dataset.qrels.get("test", {})
    queries = [q for q in dataset.queries if q.query_id in qrels]
    if not queries:
        print(f"error: no judged question in {args.questions}", file=sys.stderr)
        return 1
    # every query is scored with the reranker too; the base embedder is the only one indexed
    run_params = params.updated(
        retrieval=params.retrieval.updated(embedding="base"),
        eval_retrieval=params.eval_retrieval.updated(rerank_queries=len(queries)))
    html = [html_twin(d, folder) for d in dataset.documents]
    variants = {"sections": dataset.documents,
                "fixed windows": [dataclasses.replace(d, sections=()) for d in dataset.documents],
                "HTML sections": html}
    counts = [shared_heading_paths(m, h) for m, h in zip(dataset.documents, html, strict=True)]
    headings = {"markdown": sum(c[0] for c in counts), "html": sum(c[1] for c in counts),
                "shared": sum(c[2] for c in counts)}
    results = {}
    for name, documents in variants.items():
        start = time.perf_counter()
        index = args.work / name.replace(" ", "_")
        manifest = index_documents(index, documents, params.chunk, params.embed, params.build_db,
                                   progress=True)
        seconds = time.perf_counter() - start
        evaluation = evaluate_index(index, queries, qrels, run_params, args.reranker)
        results[name] = {"chunks": manifest["chunks"], "index_seconds": round(seconds, 1),
                         "means": evaluation.means}
    summary = {"folder": str(folder), "documents": len(dataset.documents),
               "questions": len(queries), "questions_file": str(args.questions),
               "machine": describe_machine(), "heading_paths": headings, "variants": results}
    write_json(args.out / "markdown_sections.json", summary)
    rows = {f"{variant} / {mode}": values for variant, result in results.items()
            for mode, values in result["means"].items()}
    atomic_write_text(args.out / "markdown_sections.md", "\n".join([
        "# Markdown sections against fixed windows",
        "",
        f"{len(dataset.documents)} Markdown files ({folder.name}), {len(queries)} questions "
        f"({args.questions.name}); chunk {params.chunk.size} words, overlap "
        f"{params.chunk.overlap}; the base embedder; {describe_machine()}.",
        "",
        "| variant | chunks | index seconds |", "|---|---|---|",
        *(f"| {v} | {r['chunks']} | {r['index_seconds']} |" for v, r in results.items()),
        "",
        f"Heading paths: the Markdown reader {headings['markdown']}, the HTML reader "
        f"{headings['html']}; {headings['shared']} of Markdown's "
        f"({headings['shared'] / max(headings['markdown'], 1):.1%}) found by both.",
        "",
        metrics_table(rows, METRICS),
        ""]))
    print(metrics_table(rows, METRICS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
