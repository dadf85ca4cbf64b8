"""Stage ingest: read the configured source into a BEIR folder (corpus, queries, qrels per split)."""

from __future__ import annotations

from hybridrag.config import load_params
from hybridrag.ingest import describe_corpus, load_dataset, write_beir
from hybridrag.jsonl import RowPolicy
from hybridrag.reporting import write_json
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--out", required=True, help="BEIR folder to write")
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args(argv)
    params = load_params(args.params).ingest
    policy = RowPolicy(params.on_error)
    dataset = load_dataset(params, policy)
    write_beir(dataset, args.out)
    policy.warn_if_skipped()
    summary = {
        "documents": len(dataset.documents),
        **describe_corpus(dataset.documents),
        "queries": len(dataset.queries),
        "judged_queries": {split: len(qrels) for split, qrels in sorted(dataset.qrels.items())},
        **policy.skipped_record(),
    }
    write_json(args.metrics, summary)
    print(f"ingest: {summary['documents']} documents (main language {summary['main_language']}), "
          f"{summary['queries']} queries {summary['judged_queries']}, {summary['skipped_rows']} "
          f"rows or files skipped -> {args.out}")


if __name__ == "__main__":
    run(main)
