"""Stage build_db: SQLite (documents, chunks, FTS5) and FAISS (chunk vectors), swapped in atomically."""

from __future__ import annotations

from pathlib import Path

from hybridrag.chunking import read_chunks
from hybridrag.config import load_params
from hybridrag.embedding_store import load_embeddings
from hybridrag.index import build_index
from hybridrag.ingest.beir import read_documents
from hybridrag.jsonl import RowPolicy
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--chunks", required=True)
    parser.add_argument("--embeddings", action="append", required=True, metavar="NAME=FOLDER",
                        help="an embedding set to index (repeatable)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    params = load_params(args.params).build_db
    documents = read_documents(Path(args.corpus), RowPolicy("raise"))
    sets = dict(spec.split("=", 1) for spec in args.embeddings)
    manifest = build_index(args.out, documents, read_chunks(args.chunks),
                           {name: load_embeddings(folder) for name, folder in sets.items()}, params)
    print(f"build_db: {manifest['documents']} documents, {manifest['chunks']} chunks, "
          f"FAISS {manifest['faiss_index']} for embeddings {sorted(sets)} -> {args.out}")


if __name__ == "__main__":
    run(main)
