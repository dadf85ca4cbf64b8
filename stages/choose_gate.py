"""Stage choose_gate: the answerability gate's threshold, chosen on the held-out validation
conversations of data/sft: each question's best cross-encoder score among its sources, answerable
questions against those whose sources lack the answer; the highest threshold that turns away at
most answers.gate_max_false_abstention of the answerable ones."""

from __future__ import annotations

from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", required=True, help="chatml's conversations (validation.jsonl)")
    parser.add_argument("--reranker", required=True, help="train_reranker's cross-encoder")
    parser.add_argument("--out", required=True, help="the gate's folder (gate.json)")
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args(argv)
    settings = load_params(args.params).answers
    from hybridrag.answers.gate import GATE_FILE, choose_gate
    from hybridrag.atomic import atomic_directory
    from hybridrag.jsonl import read_jsonl
    from hybridrag.reporting import write_json
    from hybridrag.search.rerank import Reranker
    from hybridrag.sft.grounded import item_from_row

    rows = [row for _, row in read_jsonl(Path(args.data) / "validation.jsonl") if "meta" in row]
    reranker = Reranker.load(args.reranker, settings.device)
    saved, rates = choose_gate([item_from_row(r) for r in rows], [r["meta"]["kind"] for r in rows],
                               reranker.scores, settings.gate_max_false_abstention,
                               f"{len(rows)} validation questions of {args.data}")
    with atomic_directory(args.out) as staging:
        write_json(staging / GATE_FILE, saved)
    write_json(args.metrics, rates)
    print(f"choose_gate: {rates}")


if __name__ == "__main__":
    run(main)
