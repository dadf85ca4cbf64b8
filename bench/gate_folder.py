"""The answerability gate on the folder path: choose_gate's threshold (chosen on SQuAD validation
questions) against the folder index's own (chosen by index_folder on the index's section
headings). The folder's questions go through the product's retrieval (answers.sources reranked
sources, cut as the product cuts them) and the gate's classifier scores each question's best
source; the questions whose sources hold a relevant file against the rest, which are of two
kinds: retrieval misses (the folder answers them, the retrieved source does not) and questions
the folder cannot answer (`"answerable": false` in the questions file). Nothing is chosen here.

    python -m bench.gate_folder      # after `make repro` (choose_gate, index_folder)

Results: bench/results/gate_folder.json and .md.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hybridrag.answers.ask import as_sources
from hybridrag.answers.evaluation import questions_to_answer
from hybridrag.answers.gate import best_source_scores, gate_rates
from hybridrag.answers.index_gate import for_index
from hybridrag.answers.prompt import token_trimmer
from hybridrag.answers.scoring import judge
from hybridrag.atomic import atomic_write_text
from hybridrag.chat.models import load_tokenizer
from hybridrag.ingest.beir import read_beir
from hybridrag.reporting import describe_machine, markdown_table, write_json
from hybridrag.search.searcher import Searcher
from support.benchmarks import answering_parser, parse_with_gate
from support.gate_calibration import auc, kind_figures

ROOT = Path(__file__).resolve().parents[1]
KINDS = {"retrieval_miss": "retrieval misses", "not_in_folder": "questions the folder does not answer"}


def main(argv: list[str] | None = None) -> int:
    parser = answering_parser(__doc__, ROOT)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "folder" / "ingested",
                        help="index_folder's BEIR folder (the folder's questions)")
    parser.add_argument("--index", type=Path, default=ROOT / "data" / "folder" / "index")
    loaded = parse_with_gate(parser, argv)
    if loaded is None:
        return 2
    args, params, gate = loaded
    answers = params.answers
    own = for_index(gate, args.gate, args.index)
    if own is gate:
        print(f"error: {args.index} has no gate threshold of its own chosen for {args.gate}; "
              "run `dvc repro index_folder`", file=sys.stderr)
        return 2
    dataset = read_beir(args.data)
    split = params.eval_retrieval.split
    qrels = dataset.qrels.get(split, {})
    titles = {d.doc_id: d.title for d in dataset.documents}
    trim = token_trimmer(load_tokenizer(str(args.base_model)), answers.source_tokens)
    queries = questions_to_answer(dataset, split, None, answers.seed)
    with Searcher(args.index, params.retrieval, params.fusion, device=answers.device,
                  reranker=args.reranker, rerank_depth=params.rerank.depth) as searcher:
        items = [judge(q.text, as_sources(searcher, searcher.search(
            q.text, k=answers.sources, rerank=True), trim), {
                d for d, grade in qrels.get(q.query_id, {}).items() if grade > 0}, titles)
                 for q in queries]
    scores = best_source_scores(items, gate.classifier.scores)
    kinds = ["answerable" if item.answerable else
             "retrieval_miss" if q.query_id in qrels else "not_in_folder"
             for q, item in zip(queries, items, strict=True)]
    answerable = [s for s, kind in zip(scores, kinds, strict=True) if kind == "answerable"]
    by_kind = {kind: [s for s, k in zip(scores, kinds, strict=True) if k == kind] for kind in KINDS}
    rest = [s for kind in KINDS for s in by_kind[kind]]
    results = {"machine": describe_machine(), "questions": len(items), "sources": answers.sources,
               "counts": {"answerable": len(answerable), **{k: len(s) for k, s in by_kind.items()}},
               "roc_auc": auc(answerable, rest),
               "thresholds": [{"gate": name, "chosen_on": g.chosen_on,
                               "turned_away": sum(s < g.threshold for s in scores),
                               **gate_rates(answerable, rest, g.threshold),
                               "by_kind": kind_figures(answerable, by_kind, g.threshold)}
                              for name, g in (("choose_gate", gate), ("index", own))]}
    write_json(args.out / "gate_folder.json", results)
    atomic_write_text(args.out / "gate_folder.md", report(results))
    print(report(results))
    return 0


def report(results: dict[str, Any]) -> str:
    counts = results["counts"]
    rows = [[row["gate"], f"{row['threshold']:.4f}", row["chosen_on"], row["turned_away"],
             row["false_abstention"], row["abstention_recall"], row["abstention_precision"],
             *(row["by_kind"].get(kind, {}).get("abstention_recall") for kind in KINDS)]
            for row in results["thresholds"]]
    by_kind = results["thresholds"][0]["by_kind"]
    return "\n".join([
        "# The answerability gate on the folder path",
        "",
        f"{results['machine']}. One run of `python -m bench.gate_folder`: the folder's "
        f"{results['questions']} questions through the product's retrieval "
        f"({results['sources']} reranked source(s) each), the gate's classifier on each one's "
        f"best source. {counts['answerable']} have a relevant file among their sources; of the "
        f"rest, {counts['retrieval_miss']} are retrieval misses and {counts['not_in_folder']} "
        "ask what the folder does not answer. False abstention: the share of the first turned "
        "away; abstention recall and precision: of the rest; then the share of each kind turned "
        "away.",
        "",
        f"ROC AUC of the classifier, the questions with a relevant source against the rest: "
        f"{results['roc_auc']}" + "".join(f"; against the {KINDS[kind]}: {row['roc_auc']}"
                                          for kind, row in by_kind.items()) + ".",
        "",
        markdown_table(["threshold", "value", "chosen on", "turned away", "false abstention",
                        "abstention recall", "abstention precision",
                        *(f"{name} turned away" for name in KINDS.values())], rows),
        "",
        "Reproduce: `make bench-gate-folder`.",
        "",
    ])


if __name__ == "__main__":
    sys.exit(main())
