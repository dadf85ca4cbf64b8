"""Does the answerability gate's threshold travel between articles? Out-of-fold scores over the
reading training articles, checked on the validation articles; training and validation data only.

    python -m bench.gate_calibration      # after `make repro` (data/sft, the reranker, the gate)

The training articles are dealt into --folds folds (seeded); for each, the classifier is trained
as choose_gate trains it (the answerability params, from the trained reranker) on the other
articles, with answerability.max_rows scaled to their share, and scores the held-out fold's
training conversations (each question's best source, as the gate reads it). On those
out-of-fold scores, for every training question: the threshold choose_gate's rule picks under
answers.gate_max_false_abstention, the abstention it buys under each cap, and each fold's false
abstention at that one threshold (how far it moves from one pair of articles to the next). Then
the committed gate (models/gate) on the validation conversations, at its own threshold and at the
out-of-fold one. Results: bench/results/gate_calibration.json and .md.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from hybridrag.answers.gate import best_source_scores, choose_threshold, gate_rates, recall_at_caps
from hybridrag.answers.prompt import token_trimmer
from hybridrag.answers.scoring import GroundedItem, SentenceScorer
from hybridrag.atomic import atomic_write_text
from hybridrag.chat.models import load_tokenizer
from hybridrag.jsonl import read_jsonl
from hybridrag.layout import SFT_DATA
from hybridrag.learning.answerability import train_answerability
from hybridrag.reporting import describe_machine, markdown_table, write_json
from hybridrag.search.rerank import Reranker, runnable
from hybridrag.sft.grounded import item_from_row
from hybridrag.sft.reading import answerability_rows, reading_articles
from support.benchmarks import answering_parser, parse_with_gate
from support.gate_calibration import (
    article_folds,
    by_answerability,
    out_of_fold_scores,
    rates_by_fold,
)

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = answering_parser(__doc__, ROOT)
    parser.add_argument("--sft-data", type=Path, default=ROOT / SFT_DATA)
    parser.add_argument("--folds", type=int, default=4)
    loaded = parse_with_gate(parser, argv)
    if loaded is None:
        return 2
    args, params, gate = loaded
    answers, settings = params.answers, params.answerability
    reading = params.sft.chatml.reading
    reading = reading.updated(path=str(ROOT / reading.path))
    trim = token_trimmer(load_tokenizer(str(args.base_model)), answers.source_tokens)
    train = reading_articles(reading, params.sft.chatml.seed, trim)[0]["train"]
    article_of = {q.text: a.title for a in train for q in a.questions}

    def conversations(split: str) -> list[GroundedItem]:
        """The split's question conversations (rows with meta) as the scorer sees them."""
        return [item_from_row(row) for _, row in read_jsonl(args.sft_data / f"{split}.jsonl")
                if "meta" in row]

    items = conversations("train")
    try:
        folds = article_folds([a.title for a in train], args.folds, settings.seed)
    except ValueError as error:
        parser.error(f"--folds: {error}")
    rows = None if settings.max_rows is None else settings.max_rows * (args.folds - 1) // args.folds

    def train_without(fold: list[str]) -> SentenceScorer:
        print(f"training the classifier without {', '.join(fold)}", flush=True)
        examples = answerability_rows([a for a in train if a.title not in fold],
                                      settings.negatives, rows, settings.seed)
        with tempfile.TemporaryDirectory() as checkpoints:
            model = train_answerability(examples, args.reranker, settings, Path(checkpoints))
        return Reranker(runnable(model), 1.0).scores

    scores = out_of_fold_scores(items, article_of, folds, train_without)
    answerable, unanswerable = by_answerability(items, scores)
    cap = answers.gate_max_false_abstention
    threshold = choose_threshold(answerable, unanswerable, cap)
    validation = conversations("validation")
    held_answerable, held_unanswerable = by_answerability(
        validation, best_source_scores(validation, gate.classifier.scores))
    results = {
        "machine": describe_machine(), "folds": folds, "rows_per_classifier": rows,
        "max_false_abstention": cap,
        "out_of_fold": {**gate_rates(answerable, unanswerable, threshold),
                        "abstention_recall_by_max_false_abstention":
                            recall_at_caps(answerable, unanswerable)},
        "by_fold": rates_by_fold(items, scores, article_of, folds, threshold),
        "validation": {"committed_threshold": gate_rates(held_answerable, held_unanswerable,
                                                         gate.threshold),
                       "out_of_fold_threshold": gate_rates(held_answerable, held_unanswerable,
                                                           threshold)},
    }
    write_json(args.out / "gate_calibration.json", results)
    atomic_write_text(args.out / "gate_calibration.md", report(results))
    print(report(results))
    return 0


def report(results: dict[str, Any]) -> str:
    def row(name: str, rates: dict[str, Any]) -> list[Any]:
        return [name, rates["answerable"], rates["unanswerable"], rates["threshold"],
                rates.get("abstention_recall"), rates.get("false_abstention")]

    pooled = results["out_of_fold"]
    rows = [row("training articles, out of fold (the threshold chosen here)", pooled),
            *(row(f"fold: {' + '.join(f['articles'])}", f) for f in results["by_fold"]),
            row("validation, the committed gate at the out-of-fold threshold",
                results["validation"]["out_of_fold_threshold"]),
            row("validation, the committed gate at its own threshold (chosen there)",
                results["validation"]["committed_threshold"])]
    curve = ", ".join(f"{float(cap):.0%}: {recall:.0%}" for cap, recall in
                      pooled["abstention_recall_by_max_false_abstention"].items())
    return "\n".join([
        "# The answerability gate's threshold from article to article",
        "",
        f"{results['machine']}. One run of `python -m bench.gate_calibration`: the classifier "
        f"trained as choose_gate trains it on all training articles but one fold's "
        f"({results['rows_per_classifier']} rows each), scoring that fold's training "
        "conversations; the threshold chosen on those out-of-fold scores under "
        f"{results['max_false_abstention']:.0%} false abstention, and each fold's rates at it. "
        "Rates: abstention recall (unanswerable questions turned away) and false abstention "
        "(answerable ones turned away).",
        "",
        markdown_table(["questions", "answerable", "unanswerable", "threshold",
                        "abstention recall", "false abstention"], rows),
        "",
        f"Out of fold, abstention recall under each false-abstention cap: {curve}.",
        "",
        "Reproduce: `make bench-gate-calibration`.",
        "",
    ])


if __name__ == "__main__":
    sys.exit(main())
