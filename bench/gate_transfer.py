"""Does the committed answerability gate hold on articles it was not chosen on? Its scores on the
validation and the test questions through the RAG loop, as the product reads them; nothing is
chosen on test, it is only measured.

    python -m bench.gate_transfer      # after `make repro` (the reranker, the gate)

For each split (answers.sources retrieved sources per question, as choose_gate builds them):
ROC AUC of the gate's classifier and of the reranker's own scores (answerable questions against
the rest), and the committed threshold's rates. On test, also the rates at the threshold the
rule would pick on test itself (an upper bound on what any threshold can do there). Then the
validation questions resampled (--draws bootstrap draws): the threshold the rule picks on each
and its rates on test, as percentiles: how far the choice moves with the few validation
questions it is made on. Per kind of question the sources cannot answer, the classifier's ROC AUC
against the answerable ones and the share the committed threshold turns away: SQuAD's
unanswerable questions (written against the very paragraph retrieved), answerable questions
whose paragraph was not retrieved, and questions about documents that are not indexed at all
(each split's questions asked of an index of the other split's articles only: what a user asks
when the documents do not cover the topic). Results: bench/results/gate_transfer.json and .md.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from hybridrag.answers.gate import best_source_scores
from hybridrag.atomic import atomic_write_text
from hybridrag.chat.models import load_tokenizer
from hybridrag.reporting import describe_machine, markdown_table, write_json
from hybridrag.search.rerank import Reranker
from hybridrag.sft.grounded import item_from_row
from hybridrag.sft.reading import rag_loop_rows
from support.benchmarks import answering_parser, parse_with_gate
from support.gate_calibration import (
    SPLITS,
    by_answerability,
    kind_figures,
    out_of_corpus_rows,
    transfer_figures,
)

ROOT = Path(__file__).resolve().parents[1]
KINDS = {"unanswerable": "SQuAD unanswerable, about the indexed article",
         "retrieval_miss": "answerable, its paragraph not retrieved",
         "out_of_corpus": "about documents not indexed"}
RAG_LOOP_KINDS = ("unanswerable", "retrieval_miss")  # the RAG loop's rows' kinds; the third is asked apart


def main(argv: list[str] | None = None) -> int:
    parser = answering_parser(__doc__, ROOT)
    parser.add_argument("--draws", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=13)
    loaded = parse_with_gate(parser, argv)
    if loaded is None:
        return 2
    args, params, gate = loaded
    answers = params.answers
    reading = params.sft.chatml.reading  # its path relative to the repository, wherever run from
    params = params.updated(sft=params.sft.updated(chatml=params.sft.chatml.updated(
        reading=reading.updated(path=str(ROOT / reading.path)))))
    tokenizer = load_tokenizer(str(args.base_model))
    reranker = Reranker.load(args.reranker, answers.device)
    scores: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    kinds: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        with tempfile.TemporaryDirectory(prefix="hybridrag-gate-transfer-") as work:
            rows = rag_loop_rows(params, tokenizer, reranker, Path(work) / "index", split,
                                 [answers.sources])[answers.sources]
            other = next(s for s in SPLITS if s != split)
            elsewhere = out_of_corpus_rows(params, tokenizer, reranker, Path(work) / "other",
                                           split, other)
        items = [item_from_row(row) for row in rows]
        classified = best_source_scores(items, gate.classifier.scores)
        scores[split] = {"classifier": by_answerability(items, classified),
                         "reranker": by_answerability(items, best_source_scores(
                             items, reranker.scores))}
        by_kind = {**{kind: [score for score, row in zip(classified, rows, strict=True)
                             if row["meta"]["kind"] == kind] for kind in RAG_LOOP_KINDS},
                   "out_of_corpus": best_source_scores([item_from_row(row) for row in elsewhere],
                                                       gate.classifier.scores)}
        kinds[split] = kind_figures(scores[split]["classifier"][0], by_kind, gate.threshold)
    results = transfer_figures(scores, gate.threshold, answers.gate_max_false_abstention,
                               args.draws, args.seed)
    results = {"machine": describe_machine(), "sources": answers.sources, **results,
               "by_kind": kinds}
    write_json(args.out / "gate_transfer.json", results)
    atomic_write_text(args.out / "gate_transfer.md", report(results))
    print(report(results))
    return 0


def report(results: dict[str, Any]) -> str:
    auc, committed = results["roc_auc"], results["committed_threshold"]
    boot, cap = results["bootstrap"], results["max_false_abstention"]

    def rates(r: dict[str, Any]) -> list[Any]:
        return [r["answerable"], r["unanswerable"], r["threshold"], r.get("abstention_recall"),
                r.get("false_abstention")]

    rows = [[split, auc[split]["classifier"], auc[split]["reranker"], *rates(committed[split])]
            for split in SPLITS]
    rows.append(["test, the threshold picked on test itself (not used)", "", "",
                 *rates(results["test_threshold_chosen_on_test"])])
    low, mid, high = (f"{p}th" for p in boot["percentiles"])
    kind_rows = [[split, KINDS[kind], row["questions"], row["roc_auc"], row["abstention_recall"]]
                 for split, by_kind in results["by_kind"].items() for kind, row in by_kind.items()]
    return "\n".join([
        "# The answerability gate on articles it was not chosen on",
        "",
        f"{results['machine']}. One run of `python -m bench.gate_transfer`: the committed gate's "
        f"classifier on the validation and test questions through the RAG loop "
        f"({results['sources']} retrieved source(s) each, as the product reads them). ROC AUC: "
        "answerable questions against the rest. Rates at the committed threshold (chosen on "
        "validation under "
        f"{cap:.0%} false abstention): abstention recall (unanswerable questions turned away) "
        "and false abstention (answerable ones turned away). Nothing is chosen on test.",
        "",
        markdown_table(["questions", "ROC AUC, classifier", "ROC AUC, reranker", "answerable",
                        "unanswerable", "threshold", "abstention recall", "false abstention"],
                       rows),
        "",
        f"Validation resampled ({boot['draws']} bootstrap draws, {boot['thresholds_chosen']} "
        f"with a threshold), the rule's threshold on each, applied to test ({low} / {mid} / "
        f"{high} percentile): threshold {' / '.join(map(str, boot['threshold']))}; test false "
        f"abstention {' / '.join(map(str, boot['test_false_abstention']))}; test abstention "
        f"recall {' / '.join(map(str, boot['test_abstention_recall']))}. "
        f"{boot['share_over_cap_on_test']:.0%} of the draws break {cap:.0%} on test.",
        "",
        "## By kind of question the sources cannot answer",
        "",
        "The classifier's ROC AUC against the split's answerable questions, and the share the "
        "committed threshold turns away. \"About documents not indexed\": the split's questions "
        "asked of an index of the other split's articles only (validation's of test's, test's of "
        "validation's), every source lacking the answer.",
        "",
        markdown_table(["questions", "kind", "count", "ROC AUC, classifier", "turned away"],
                       kind_rows),
        "",
        "Reproduce: `make bench-gate-transfer`.",
        "",
    ])


if __name__ == "__main__":
    sys.exit(main())
