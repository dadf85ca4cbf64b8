"""Stage embed: encode every chunk (with its document title) into unit vectors."""

from __future__ import annotations

import time
from pathlib import Path

from hybridrag.chunking import read_chunks
from hybridrag.config import load_params
from hybridrag.embedding import load_encoder
from hybridrag.embedding_store import save_embeddings
from hybridrag.ingest.beir import read_documents
from hybridrag.jsonl import RowPolicy
from hybridrag.pipeline import embed_chunks
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--corpus", default="data/ingested/corpus.jsonl")
    parser.add_argument("--chunks", default="data/chunks.jsonl")
    parser.add_argument("--out", default="data/embeddings")
    parser.add_argument("--model", help="override embed.model (e.g. the fine-tuned models/embed)")
    args = parser.parse_args(argv)
    params = load_params(args.params).embed
    if args.model:
        params = params.updated(model=args.model)
    documents = read_documents(Path(args.corpus), RowPolicy("raise"))
    chunks = read_chunks(args.chunks)
    encoder = load_encoder(params.model, params.device, params.max_seq_length)
    print(f"embed: {len(chunks)} chunks with {params.model} on {encoder.device}")
    start = time.perf_counter()
    embeddings = embed_chunks(documents, chunks, params, encoder, progress=True)
    seconds = time.perf_counter() - start
    save_embeddings(args.out, embeddings)
    print(f"embed: {len(chunks)} x {embeddings.info.dimension} in {seconds:.1f} s "
          f"({len(chunks) / max(seconds, 1e-9):.1f} chunks/s) -> {args.out}")


if __name__ == "__main__":
    run(main)
