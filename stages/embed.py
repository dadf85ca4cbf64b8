"""Stage embed: encode every chunk (with its document title) into unit vectors. Vectors the
previous output (kept by DVC: persist) holds for the same text and weights are reused, so a
changed corpus re-encodes only its new and changed chunks."""

from __future__ import annotations

import time
from pathlib import Path

from hybridrag.chunking import read_chunks
from hybridrag.config import load_params
from hybridrag.embedding import load_encoder
from hybridrag.embedding_store import load_embeddings, save_embeddings
from hybridrag.ingest.beir import read_documents
from hybridrag.jsonl import RowPolicy
from hybridrag.pipeline import embed_chunks_reusing
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--chunks", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", help="override embed.model (e.g. the fine-tuned models/embed)")
    args = parser.parse_args(argv)
    params = load_params(args.params).embed
    if args.model:
        params = params.updated(model=args.model)
    documents = read_documents(Path(args.corpus), RowPolicy("raise"))
    chunks = read_chunks(args.chunks)
    previous = load_embeddings(args.out) if (Path(args.out) / "info.json").is_file() else None
    encoder = load_encoder(params.model, params.device, params.max_seq_length)
    print(f"embed: {len(chunks)} chunks with {params.model} on {encoder.device}")
    start = time.perf_counter()
    embeddings, encoded = embed_chunks_reusing(documents, chunks, params, previous, encoder,
                                               progress=True)
    seconds = time.perf_counter() - start
    save_embeddings(args.out, embeddings)
    print(f"embed: {len(chunks)} x {embeddings.info.dimension}: {encoded} encoded, "
          f"{len(chunks) - encoded} reused from the previous output, in {seconds:.1f} s -> {args.out}")


if __name__ == "__main__":
    run(main)
