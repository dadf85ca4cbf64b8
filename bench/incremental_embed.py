"""What a small corpus change costs the embed stage: a full embed against adding and removing
1% of the documents with the embedding cache, measured in one run on one machine.

    python -m bench.incremental_embed      # after `make repro` wrote data/ingested and data/chunks.jsonl

A seeded `--changed` share of the documents is held out; the rest is embedded from scratch (the
baseline). Then the held-out documents are added (only their chunks should be encoded), and a
second seeded share is removed (nothing should be encoded). Each step goes through the embed
stage's own call, pipeline.embed_chunks_reusing. Results: bench/results/incremental_embed.json/.md.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from hybridrag.atomic import atomic_write_text
from hybridrag.chunking import read_chunks
from hybridrag.config import load_params
from hybridrag.embedding import load_encoder
from hybridrag.ingest.beir import read_documents
from hybridrag.jsonl import RowPolicy
from hybridrag.layout import CHUNKS, INGESTED, PARAMS
from hybridrag.pipeline import embed_chunks_reusing
from hybridrag.reporting import describe_machine, markdown_table, write_json

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=ROOT / PARAMS)
    parser.add_argument("--corpus", type=Path, default=ROOT / INGESTED / "corpus.jsonl")
    parser.add_argument("--chunks", type=Path, default=ROOT / CHUNKS)
    parser.add_argument("--changed", type=float, default=0.01, help="share of documents added, then removed")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    embed = load_params(args.params).embed
    documents = read_documents(args.corpus, RowPolicy("raise"))
    chunks = read_chunks(args.chunks)
    rng = random.Random(args.seed)
    picked = rng.sample([d.doc_id for d in documents], 2 * round(args.changed * len(documents)))
    added, removed = set(picked[:len(picked) // 2]), set(picked[len(picked) // 2:])
    corpora = {"full embed (baseline)": ({d.doc_id for d in documents} - added, None),
               f"add {args.changed:.0%} of the documents": ({d.doc_id for d in documents}, "previous"),
               f"remove {args.changed:.0%} of the documents": ({d.doc_id for d in documents} - removed,
                                                              "previous")}
    encoder = load_encoder(embed.model, embed.device, embed.max_seq_length)
    rows, previous = [], None
    for step, (kept, cache) in corpora.items():
        step_chunks = [c for c in chunks if c.doc_id in kept]
        start = time.perf_counter()
        previous, encoded = embed_chunks_reusing([d for d in documents if d.doc_id in kept],
                                                 step_chunks, embed,
                                                 previous if cache else None, encoder)
        seconds = time.perf_counter() - start
        rows.append({"step": step, "documents": len(kept), "chunks": len(step_chunks),
                     "encoded": encoded, "seconds": round(seconds, 2)})
        print(rows[-1], flush=True)
    for row in rows:
        row["time_vs_full"] = round(row["seconds"] / rows[0]["seconds"], 4)
    summary = {"machine": describe_machine(), "device": str(encoder.device), "model": embed.model,
               "batch_size": embed.batch_size, "changed": args.changed, "seed": args.seed,
               "steps": rows}
    write_json(args.out / "incremental_embed.json", summary)
    header = ["step", "documents", "chunks", "encoded", "seconds", "time_vs_full"]
    atomic_write_text(args.out / "incremental_embed.md", (
        "# Incremental embedding: a full embed against a 1% change\n\n"
        f"Machine: {summary['machine']} ({summary['device']}); model {embed.model}, batch "
        f"{embed.batch_size}. Written by `python -m bench.incremental_embed` after `make repro`; "
        "every step in one run. Unchanged chunks are copied from the previous vectors by "
        "their cache key (passage text, model weights, token limit).\n\n"
        + markdown_table(header, [[row[h] for h in header] for row in rows]) + "\n"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
