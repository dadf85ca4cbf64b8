"""Stage make_pairs: (query, passage) pairs for training, real and synthetic, split by document."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from hybridrag.config import load_params
from hybridrag.stage import run, stage_parser


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", default="data/ingested", help="BEIR folder (train/test qrels)")
    parser.add_argument("--chunks", default="data/chunks.jsonl")
    parser.add_argument("--embeddings", default="data/embeddings", help="base chunk vectors")
    parser.add_argument("--chat-model", default="models/base", help="writes synthetic questions")
    parser.add_argument("--out", default="data/pairs")
    parser.add_argument("--metrics", default="metrics/pairs.json")
    args = parser.parse_args(argv)
    params = load_params(args.params).pairs
    from hybridrag.atomic import atomic_directory
    from hybridrag.chunking import read_chunks
    from hybridrag.embedding import encode, load_encoder
    from hybridrag.embedding_store import load_embeddings
    from hybridrag.ingest.beir import read_beir
    from hybridrag.pairs import (
        ChunkVectors,
        filter_synthetic,
        held_out_documents,
        pair_counts,
        question_prompt,
        split_by_document,
        training_pairs,
        write_pairs,
    )
    from hybridrag.reporting import write_json

    dataset = read_beir(args.data)
    embeddings = load_embeddings(args.embeddings)
    titles = {d.doc_id: d.title for d in dataset.documents}
    chunks = ChunkVectors(read_chunks(args.chunks), embeddings.vectors, embeddings.chunk_ids, titles,
                          embeddings.info.include_title)
    encoder = load_encoder(embeddings.info.model, max_seq_length=embeddings.info.max_seq_length)
    real = training_pairs(dataset, chunks, lambda texts: encode(encoder, texts, batch_size=256))
    synthetic, outcome = [], Counter()
    if params.synthetic_chunks:
        from hybridrag.generation import ChatGenerator

        held_out = held_out_documents(dataset)
        eligible = [i for i, c in enumerate(chunks.chunks) if c.doc_id not in held_out]
        picked = sorted(random.Random(params.seed).sample(eligible, min(params.synthetic_chunks,
                                                                        len(eligible))))
        generator = ChatGenerator(args.chat_model, args.chat_model)
        questions = generator.generate([question_prompt(chunks.passage(i)) for i in picked],
                                       params.max_new_tokens, params.generation_batch_size)
        synthetic, outcome = filter_synthetic(zip(picked, questions, strict=True), chunks,
                                              encode(encoder, questions), params.synthetic_top_k)
    train, validation = split_by_document(real + synthetic, params.validation_fraction, params.seed)
    with atomic_directory(args.out) as staging:
        write_pairs(staging / "train.jsonl", train)
        write_pairs(staging / "validation.jsonl", validation)
    summary = {"real_pairs": len(real), "synthetic_generated": sum(outcome.values()),
               "synthetic_kept": outcome["kept"], "synthetic_rejected": {
                   k: v for k, v in sorted(outcome.items()) if k != "kept"},
               "train": pair_counts(train), "validation": pair_counts(validation)}
    write_json(args.metrics, summary)
    print(f"make_pairs: {len(real)} real pairs; {summary['synthetic_kept']} of "
          f"{summary['synthetic_generated']} synthetic questions kept; {len(train)} train / "
          f"{len(validation)} validation pairs -> {Path(args.out)}")


if __name__ == "__main__":
    run(main)
