"""Bulk embedding by torch fp32, ONNX Runtime fp32 and ONNX Runtime int8 (embed.backend), in one
run on one machine: chunks/s, how close the vectors stay to torch's, and nDCG@10 of dense and
hybrid retrieval over an index built from each.

    python -m bench.embed_backends       # the default corpus (after `make repro`'s ingest) and SciFact

Every other setting comes from params.yaml (chunk, build_db, retrieval, fusion; the base
model, embed.model). The default corpus is scored on its test known-item queries, SciFact on
its test qrels (../shared/benchmarks, skipped when absent). Speed: each backend's best of
--rounds passes over a seeded sample of --speed-sample chunks, the backends taking turns in
every round. Then torch and int8 each encode every chunk once for the index they are scored
on (ONNX fp32 gives torch's vectors to 1e-5, tested in tests/test_embedding.py).
Results: bench/results/embed_backends.json/.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hybridrag.atomic import atomic_write_text
from hybridrag.config import load_params
from hybridrag.embedding import load_encoder
from hybridrag.ingest.beir import read_beir
from hybridrag.jsonl import RowPolicy
from hybridrag.layout import INGESTED, PARAMS
from hybridrag.reporting import describe_machine, markdown_table, write_json
from support.embed_backends import compare_backends

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["backend", "chunks", "chunks_per_second", "speed_vs_reference", "full_embed_seconds",
           "mean_cosine_to_reference", "min_cosine_to_reference", "dense_ndcg@10", "hybrid_ndcg@10"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=ROOT / PARAMS)
    parser.add_argument("--default-corpus", type=Path, default=ROOT / INGESTED,
                        help="the ingest stage's BEIR folder")
    parser.add_argument("--benchmarks", type=Path, default=ROOT.parent / "shared" / "benchmarks")
    parser.add_argument("--datasets", nargs="*", default=["scifact"], help="under --benchmarks")
    parser.add_argument("--speed-sample", type=int, default=512, help="chunks timed per pass")
    parser.add_argument("--rounds", type=int, default=2, help="timed passes per backend")
    parser.add_argument("--seed", type=int, default=13, help="picks the timed chunks")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work" / "embed_backends")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    params = load_params(args.params)
    folders = {"default corpus": args.default_corpus,
               **{name: args.benchmarks / name for name in args.datasets}}
    encoder = load_encoder(params.embed.model, "cpu", params.embed.max_seq_length)
    results = {}
    for name, folder in folders.items():
        if not (folder / "corpus.jsonl").is_file():
            print(f"SKIPPED: {name}: no BEIR folder at {folder}")
            continue
        policy = RowPolicy("skip")
        rows = compare_backends(read_beir(folder, policy), "test", params, args.work / folder.name,
                                encoder, speed_sample=args.speed_sample, rounds=args.rounds,
                                seed=args.seed, progress=True)
        results[name] = rows
        print(name, *rows, sep="\n", flush=True)
    summary = {"machine": describe_machine(), "device": "cpu", "model": params.embed.model,
               "batch_size": params.embed.batch_size, "speed_sample": args.speed_sample,
               "rounds": args.rounds, "seed": args.seed, "chunk": params.chunk.model_dump(),
               "fusion": params.fusion.model_dump(), "results": results}
    write_json(args.out / "embed_backends.json", summary)
    tables = "\n".join(f"## {name}\n\n" + markdown_table(COLUMNS, [[row.get(c, "") for c in COLUMNS]
                                                                    for row in rows]) + "\n"
                       for name, rows in results.items())
    atomic_write_text(args.out / "embed_backends.md", (
        "# Bulk embedding: torch fp32, ONNX fp32, ONNX int8\n\n"
        f"Machine: {summary['machine']} (CPU); model {params.embed.model}, batch "
        f"{params.embed.batch_size}, chunks of {params.chunk.size} words. Written by "
        "`python -m bench.embed_backends` (`make bench-embed`); every row of a table in one "
        f"run. chunks/s: the best of {args.rounds} passes over a seeded sample of "
        f"{args.speed_sample} chunks, the backends taking turns each round; full_embed_seconds: "
        "one pass over every chunk (more exposed to other load on the machine). ONNX fp32 is "
        "timed only: its vectors are torch's to 1e-5 (tests/test_embedding.py). Cosines are "
        "against torch's vector of the same chunk; nDCG@10 is on the test "
        "queries, with each index's queries encoded by its own backend (int8 queries for the "
        f"int8 index); hybrid is fusion.method={params.fusion.method}.\n\n" + tables))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
