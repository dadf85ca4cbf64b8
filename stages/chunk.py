"""Stage chunk: split each document into overlapping word windows with character offsets."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hybridrag.chunking import chunk_documents, write_chunks
from hybridrag.config import load_params
from hybridrag.ingest.beir import read_documents
from hybridrag.jsonl import RowPolicy
from hybridrag.reporting import write_json
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args(argv)
    params = load_params(args.params).chunk
    documents = read_documents(Path(args.corpus), RowPolicy("raise"))
    chunks = list(chunk_documents(documents, params.size, params.overlap))
    write_chunks(args.out, chunks)
    per_document = Counter(chunk.doc_id for chunk in chunks)
    summary = {
        "chunks": len(chunks),
        "documents": len(documents),
        "chunks_per_document_mean": round(len(chunks) / max(len(documents), 1), 4),
        "chunks_per_document_max": max(per_document.values(), default=0),
    }
    write_json(args.metrics, summary)
    print(f"chunk: {summary['chunks']} chunks from {summary['documents']} documents -> {args.out}")


if __name__ == "__main__":
    run(main)
