"""Stage infer_compare: base, every SFT method and DPO on held-out grounded questions (reading:
the test articles' questions over given sources, then through the full RAG loop), and the
product: answers.chat_model's replies through choose_gate's gate and answers.policy."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hybridrag.config import SFT_METHODS, load_params
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--base-model", required=True)
    parser.add_argument("--models", required=True, help="folder of the SFT runs")
    parser.add_argument("--dpo", required=True, help="the train_dpo run")
    parser.add_argument("--data", required=True)
    parser.add_argument("--reranker", required=True,
                        help="the extractive baseline's and answer's cross-encoder")
    parser.add_argument("--gate", required=True, help="choose_gate's answerability gate")
    parser.add_argument("--train-metrics", required=True)
    parser.add_argument("--live", required=True, help="DVCLive folders, one per run")
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--reports", required=True)
    parser.add_argument("--reply-cache", type=Path, default=None,
                        help="SQLite file of the replies generated so far: a run stopped "
                             "part-way resumes from it; deleted once the stage has written "
                             "its outputs")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    from hybridrag.answers.gate import Gate
    from hybridrag.atomic import atomic_write_text
    from hybridrag.chat.models import load_tokenizer
    from hybridrag.jsonl import read_jsonl, write_jsonl
    from hybridrag.reporting import write_json
    from hybridrag.search.rerank import Reranker
    from hybridrag.sft.compare import (
        ProductPolicy,
        against_best,
        best_model,
        compare_models,
        compared_models,
        held_out,
    )
    from hybridrag.sft.reading import rag_loop_rows
    from hybridrag.sft.reply_cache import ReplyCache
    from hybridrag.sft.report import (
        TRAINING_COLUMNS,
        curves,
        plot_curves,
        sample_rows,
        write_report,
    )

    sft = params.sft
    rows = [row for _, row in read_jsonl(Path(args.data) / "test.jsonl")]
    methods = [m for m in SFT_METHODS if m in sft.methods]
    reports = Path(args.reports)
    plot_curves(reports / "sft_loss_curves.png", curves(Path(args.live), methods, "loss"),
                "SFT training loss (assistant tokens)", "loss")
    plot_curves(reports / "dpo_reward_margins.png", curves(Path(args.live), ["dpo"], "rewards/margins"),
                "DPO reward margin, chosen - rejected", "margin")
    if not rows:  # a corpus without held-out judged questions (a folder of files)
        note = (f"No held-out test conversations in {args.data}: the corpus has no judged test "
                "queries, so the models are not compared.")
        write_json(args.metrics, {"test_rows": 0, "note": note})
        write_jsonl(reports / "sft_samples.jsonl", [])
        atomic_write_text(reports / "sft_results.md", f"# Fine-tuning for grounded answers\n\n{note}\n")
        print(f"infer_compare: {note}")
        return
    models = compared_models(Path(args.base_model), Path(args.models), Path(args.dpo), methods)
    reading = all("meta" in row for row in rows) and held_out(rows).reading
    answers = params.answers
    reranker = Reranker.load(args.reranker, answers.device)
    gate = Gate.load(args.gate, device=answers.device) if answers.gate and answers.rerank else None
    product = ProductPolicy.of(gate, reranker, answers)
    row_sets = {"test": rows}
    if reading:  # the same models, too, over sources retrieved from the test articles
        with tempfile.TemporaryDirectory(prefix="hybridrag-rag-loop-") as work:
            row_sets["rag_loop"] = rag_loop_rows(params, load_tokenizer(args.base_model),
                                                 reranker, Path(work) / "index")[answers.sources]
    cache = ReplyCache(args.reply_cache) if args.reply_cache else None
    comparisons = compare_models(models, Path(args.base_model), row_sets, sft, answers,
                                 answers.chat_model, sentence_scorer=reranker.scores
                                 if reading else None, product=product, reply_cache=cache)
    results, answered, data = (comparisons["test"].results, comparisons["test"].answered,
                               comparisons["test"].data)
    rag_loop = comparisons["rag_loop"].results if reading else None
    for name in models:
        training = Path(args.train_metrics) / f"train_{name}.json"
        if training.is_file():
            recorded = json.loads(training.read_text())
            results[name].update({k: recorded[k] for k in TRAINING_COLUMNS if k in recorded})
    best = best_model(answered, data, sft.compare.other_questions) if data is not None else None
    if best is not None:
        against_best(results, answered, data, best[0], sft.compare)
    write_json(args.metrics, {"test_rows": len(rows),
                              f"best_{data.main_metric if data else 'cites_relevant'}":
                                  best[0] if best else None, **results,
                              **({"rag_loop": rag_loop} if rag_loop else {})})
    samples = sample_rows(answered, data, sft.compare.samples) if data is not None else []
    write_jsonl(reports / "sft_samples.jsonl", samples)
    write_report(reports / "sft_results.md", results, samples, data, sft, answers, best,
                 rag_loop)
    if cache is not None:
        print(f"infer_compare: {cache.hits} batches of replies read from {cache.path}, "
              f"{cache.misses} generated")
        cache.remove()


if __name__ == "__main__":
    run(main)
