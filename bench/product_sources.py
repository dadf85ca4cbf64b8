"""How many retrieved sources should the product read? The product path over the reading
articles' full RAG loop, reading 1, 2 or 3 of the reranked sources, on validation (where
answers.sources is chosen) and test (reported only).

    python -m bench.product_sources      # after `make repro` (the reranker, the gate, the chat export)

For each split, the articles' paragraphs are indexed as infer_compare's RAG loop indexes the test
articles (the pipeline's chunk, embed and build_db settings, the base embedder, the reranker's
first-stage fusion, the reranker), and the same seeded questions are asked with each count of
sources: answers.chat_model on answers.runtime, then the product's policy (the gate at
choose_gate's threshold, answers.attribute, answers.on_model_abstention). Rows: the scorer's
rates, the seconds spent generating, and the share of answerable questions whose paragraph is
among the sources; paired differences (same questions, bootstrap) of each count against
--against. Results: bench/results/product_sources.json and .md.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hybridrag.answers.gate import Gate
from hybridrag.atomic import atomic_write_text
from hybridrag.chat.models import load_tokenizer
from hybridrag.chat.runtime import load_generator
from hybridrag.config import load_params
from hybridrag.layout import CHAT_EXPORT, DPO_MODEL, SFT_MODELS, chat_model_folder
from hybridrag.reporting import describe_machine, markdown_table, write_json
from hybridrag.search.rerank import Reranker
from hybridrag.sft.compare import (
    ProductPolicy,
    answer_items,
    answer_rates,
    held_out,
    paired_difference,
)
from hybridrag.sft.reading import rag_loop_rows
from support.benchmarks import answering_parser

ROOT = Path(__file__).resolve().parents[1]
RATES = ("overall_f1", "f1", "exact_match", "cites_relevant", "cites_wrong",
         "abstains_unanswerable", "false_abstention", "well_formed")
PAIRED = ("overall_f1", "f1", "cites_relevant", "abstains_unanswerable")


def main(argv: list[str] | None = None) -> int:
    parser = answering_parser(__doc__, ROOT)
    parser.add_argument("--chat-model", type=Path,
                        help="the chat model's run folder (default: answers.chat_model's, here)")
    parser.add_argument("--chat-export", type=Path, default=ROOT / CHAT_EXPORT)
    parser.add_argument("--sources", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--against", type=int, default=3, help="the count the others are paired with")
    parser.add_argument("--splits", nargs="+", default=["validation", "test"])
    args = parser.parse_args(argv)
    params = load_params(args.params)
    answers = params.answers
    if not (args.chat_export / "run.json").is_file():
        print("error: no chat export; run `make repro` first", file=sys.stderr)
        return 2
    tokenizer = load_tokenizer(args.base_model)
    folder = args.chat_model or chat_model_folder(answers.chat_model, args.base_model,
                                                  ROOT / SFT_MODELS, ROOT / DPO_MODEL)
    generator = load_generator(folder, args.base_model, answers.runtime, answers.precision,
                               args.chat_export, answers.device)
    reranker = Reranker.load(args.reranker, answers.device)
    gate = Gate.load(args.gate, device=answers.device) if answers.gate and answers.rerank else None
    counts = sorted(set(args.sources) | {args.against})
    results: dict[str, Any] = {"machine": describe_machine(),
                               "chat_model": str(args.chat_model or answers.chat_model),
                               "runtime": f"{generator.runtime} {generator.precision}",
                               "gate_threshold": gate.threshold if gate else None,
                               "params_sources": answers.sources, "against": args.against,
                               "splits": {}}
    for split in args.splits:
        with tempfile.TemporaryDirectory(prefix="hybridrag-sources-") as work:
            rows = rag_loop_rows(params, tokenizer, reranker, Path(work) / "index", split,
                                 counts)
        runs, shown = [], {}
        for k in counts:
            data = held_out(rows[k])
            indices = list(range(len(data.items)))
            started = time.perf_counter()
            model = answer_items(generator, data.items, indices, answers)
            seconds = time.perf_counter() - started
            policy = ProductPolicy.of(gate, reranker, answers.updated(sources=k))  # reads all k
            shown[k] = (data, policy.answers(data.items, model))
            answerable = [r for r in rows[k] if r["meta"]["kind"] in ("answer", "retrieval_miss")]
            rates = answer_rates(data.items, shown[k][1])
            runs.append({"sources": k, "questions": len(indices),
                         "gold_retrieved": round(sum(r["meta"]["kind"] == "answer"
                                                     for r in answerable) / len(answerable), 4)
                         if answerable else None,
                         **{rate: rates[rate] for rate in RATES},
                         "generate_seconds": round(seconds, 1)})
            print(split, runs[-1], flush=True)
        base_data, base_shown = shown[args.against]
        paired = [{"sources": k, "metric": metric,
                   **(paired_difference(shown[k][1], base_shown, base_data.items, metric,
                                        params.sft.compare.bootstrap, params.sft.compare.seed)
                      or {})}
                  for k in counts if k != args.against for metric in PAIRED]
        results["splits"][split] = {"runs": runs, "paired": paired}
    write_json(args.out / "product_sources.json", results)
    atomic_write_text(args.out / "product_sources.md", report(results))
    return 0


def report(results: dict[str, Any]) -> str:
    columns = ["sources", "questions", "gold_retrieved", *RATES, "generate_seconds"]
    lines = [
        "# How many retrieved sources the product reads", "",
        f"{results['machine']}. One run of `python -m bench.product_sources`: the product path "
        f"(`{results['chat_model']}` on {results['runtime']}, the gate at "
        f"{results['gate_threshold']}, attribution, the extractive fallback) over the reading "
        "articles' full RAG loop, the same seeded questions with each count of reranked sources. "
        "`gold_retrieved`: the share of answerable questions whose paragraph is among the "
        "sources; rates as the scorer gives them (cites and false abstention over the answerable "
        "questions whose paragraph was retrieved; overall F1 over all). answers.sources is "
        f"chosen on validation (it is {results['params_sources']}); test is reported only.", ""]
    for split, found in results["splits"].items():
        lines += [f"## {split}", "",
                  markdown_table(columns, [[run.get(c) for c in columns] for run in found["runs"]]),
                  "", f"Paired against {results['against']} sources (mean, 95% bootstrap interval):",
                  "", markdown_table(["sources", "metric", "difference", "95% interval", "items"],
                                     [[p["sources"], p["metric"], p.get("difference"),
                                       p.get("ci95"), p.get("items")] for p in found["paired"]]),
                  ""]
    return "\n".join(lines + ["Reproduce: `make bench-product-sources`.", ""])


if __name__ == "__main__":
    sys.exit(main())
