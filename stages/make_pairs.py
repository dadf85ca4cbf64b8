"""Stage make_pairs: (query, passage) pairs for training, real and synthetic, split by document."""

from __future__ import annotations

from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", required=True, help="BEIR folder (train/test qrels)")
    parser.add_argument("--chunks", required=True)
    parser.add_argument("--embeddings", required=True, help="base chunk vectors")
    parser.add_argument("--chat-model", required=True, help="writes synthetic questions")
    parser.add_argument("--out", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args(argv)
    params = load_params(args.params)
    from hybridrag.atomic import atomic_directory
    from hybridrag.chunking import read_chunks
    from hybridrag.embedding import batch_encoder, load_encoder
    from hybridrag.embedding_store import load_embeddings
    from hybridrag.ingest.beir import read_beir
    from hybridrag.learning.pairs import ChunkVectors, make_pairs, write_pairs
    from hybridrag.reporting import write_json

    dataset = read_beir(args.data)
    embeddings = load_embeddings(args.embeddings)
    titles = {d.doc_id: d.title for d in dataset.documents}
    chunks = ChunkVectors(read_chunks(args.chunks), embeddings.vectors, embeddings.chunk_ids, titles,
                          embeddings.info.include_title)
    encoder = load_encoder(embeddings.info.model, params.pairs.device,
                           embeddings.info.max_seq_length)
    encode_questions = batch_encoder(encoder, embeddings.info.backend)  # as the chunks were
    generator = None
    if params.pairs.synthetic_chunks:
        from hybridrag.chat.generation import TransformersGenerator

        generator = TransformersGenerator.load(args.chat_model, args.chat_model, params.pairs.device)
    train, validation, summary = make_pairs(
        dataset, chunks, lambda texts: encode_questions(texts, params.pairs.encode_batch_size, False),
        generator,
        params.pairs)
    with atomic_directory(args.out) as staging:
        write_pairs(staging / "train.jsonl", train)
        write_pairs(staging / "validation.jsonl", validation)
    write_json(args.metrics, summary)
    print(f"make_pairs: {summary['real_pairs']} real pairs; {summary['synthetic_kept']} of "
          f"{summary['synthetic_generated']} synthetic questions kept; {len(train)} train / "
          f"{len(validation)} validation pairs -> {Path(args.out)}")


if __name__ == "__main__":
    run(main)
