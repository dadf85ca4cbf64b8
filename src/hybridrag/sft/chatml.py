"""The chatml stage: conversations from the configured source, split, measured and written."""

from __future__ import annotations

import random
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hybridrag.atomic import atomic_directory
from hybridrag.config import Params, SftParams
from hybridrag.jsonl import RowPolicy, write_jsonl
from hybridrag.reporting import write_json

Rows = dict[str, list[dict[str, Any]]]  # split -> ChatML rows ({"messages": [...], ...})


def token_lengths(tokenizer: Any, rows: list[dict[str, Any]]) -> list[int]:
    return [len(tokenizer.apply_chat_template(r["messages"], tokenize=True, return_dict=True)
                ["input_ids"]) for r in rows]


def length_summary(lengths: list[int], limit: int) -> dict[str, Any]:
    ordered = sorted(lengths) or [0]
    return {"mean": round(statistics.fmean(ordered), 1), "p50": ordered[len(ordered) // 2],
            "p95": ordered[int(0.95 * (len(ordered) - 1))], "max": ordered[-1],
            f"share_over_{limit}": round(sum(n > limit for n in ordered) / len(ordered), 4)}


def converted_splits(params: SftParams, tokenizer: Any) -> tuple[Rows, dict[str, Any]]:
    """Conversations users bring (chitchat, alpaca, sharegpt, messages): validated,
    deduplicated, a seeded subset, split by conversation."""
    from hybridrag.sft.conversations import (
        chitchat_conversations,
        deduplicate,
        read_conversations,
        split_conversations,
    )

    settings = params.chatml
    policy = RowPolicy(settings.on_error)
    source = (chitchat_conversations(settings.max_turns) if settings.source == "chitchat" else
              read_conversations(settings.path, settings.source, policy, settings.max_turns))
    conversations, duplicates = deduplicate(source)
    policy.warn_if_skipped()
    if not conversations:
        raise ValueError(f"sft.chatml: the {settings.source} source gave no usable conversation")
    if settings.max_conversations is not None and len(conversations) > settings.max_conversations:
        chosen = sorted(random.Random(settings.seed).sample(range(len(conversations)),
                                                            settings.max_conversations))
        conversations = [conversations[i] for i in chosen]
    splits = split_conversations(conversations, settings.validation_fraction,
                                 settings.test_fraction, settings.seed)
    rows = {name: [{"messages": c} for c in part] for name, part in splits.items()}
    lengths = token_lengths(tokenizer, [r for part in rows.values() for r in part])
    return rows, {"source": settings.source,
                  "conversations": {name: len(part) for name, part in rows.items()},
                  "duplicates_dropped": duplicates, "skipped_rows": sum(policy.skipped.values()),
                  "skipped_by_kind": dict(sorted(policy.skipped.items())),
                  "tokens": length_summary(lengths, params.train.max_length)}


def grounded_splits(params: Params, tokenizer: Any, data: Path, index: Path, reranker: Path,
                    pairs: Path) -> tuple[Rows, dict[str, Any]]:
    """Grounded conversations over the index's retrieved sources (see sft.grounded)."""
    from hybridrag.answers.prompt import token_trimmer
    from hybridrag.ingest.beir import read_beir
    from hybridrag.learning.pairs import read_pairs
    from hybridrag.search.searcher import Searcher
    from hybridrag.sft.grounded import (
        QuestionWriter,
        example_counts,
        grounded_examples,
        split_questions,
    )

    settings, answers = params.sft.chatml, params.answers
    dataset = read_beir(data)
    synthetic = [(p.query, p.doc_id) for p in read_pairs(pairs / "train.jsonl")
                 if p.source == "synthetic"]
    splits = split_questions(dataset, synthetic, settings.grounded, settings.validation_fraction,
                             settings.seed)
    if not splits.train:  # the training stages then keep their start models, saying why
        print(f"warning: sft.chatml: no training questions in {data} (no judged train queries "
              "and no synthetic questions kept by make_pairs): nothing to fine-tune on",
              file=sys.stderr)
    # The reranker's first stage, not the query-time `fusion`: trying another fusion at query
    # time must not rebuild the training data and retrain every model.
    with Searcher(index, params.retrieval, params.rerank.first_stage, device=answers.device,
                  reranker=reranker if answers.rerank else None,
                  rerank_depth=params.rerank.depth) as searcher:
        examples = grounded_examples(splits, searcher, token_trimmer(tokenizer, answers.source_tokens),
                                     QuestionWriter(dataset.documents), settings.grounded,
                                     settings.sources, answers.rerank, settings.seed)
    rows = {split: [e.row() for e in part] for split, part in examples.items()}
    summary = {"source": "grounded", "questions": {"train": len(splits.train),
                                                   "validation": len(splits.validation),
                                                   "test": len(splits.test)},
               "conversations": {split: len(part) for split, part in rows.items()},
               "sources_per_prompt": settings.sources, "source_tokens": answers.source_tokens,
               "reranked_sources": answers.rerank,
               "trained_documents_judged_in_test": len(
                   {d for q in splits.train for d in q.relevant}
                   & {d for q in splits.test for d in q.relevant})}
    for split, part in examples.items():
        summary[split] = {**example_counts(part), "tokens": length_summary(
            token_lengths(tokenizer, rows[split]), params.sft.train.max_length)}
    return rows, summary


def reading_splits(params: Params, tokenizer: Any,
                   grounded: Callable[[], Rows] | None = None) -> tuple[Rows, dict[str, Any]]:
    """Reading conversations from the SQuAD-format file (see sft.reading), split by article;
    `grounded` gives the grounded rows mixed into training (sft.chatml.reading.grounded_share)."""
    from hybridrag.answers.prompt import token_trimmer
    from hybridrag.sft.reading import read_squad, reading_examples, split_articles, split_summary

    settings, answers = params.sft.chatml, params.answers
    reading = settings.reading
    articles, dropped = read_squad(Path(reading.path), token_trimmer(tokenizer,
                                                                     answers.source_tokens))
    examples = reading_examples(articles, reading, settings.sources, settings.seed)
    rows = {split: [e.row() for e in part] for split, part in examples.items()}
    answerable = sum(bool(q.answers) for a in articles for q in a.questions)
    if dropped["answer_beyond_budget"] > 0.2 * (answerable + dropped["answer_beyond_budget"]):
        print(f"warning: sft.chatml.reading: {dropped['answer_beyond_budget']} answerable "
              f"questions dropped, their answer beyond answers.source_tokens "
              f"({answers.source_tokens}): raise it (reading needs about 160)", file=sys.stderr)
    mixed = 0
    if grounded is not None and reading.grounded_share > 0:
        pool = grounded()["train"]
        mixed = min(len(pool), round(reading.grounded_share * len(rows["train"])))
        rng = random.Random(f"{settings.seed}:mixture")
        rows["train"] = rng.sample(rows["train"] + rng.sample(pool, mixed),
                                   len(rows["train"]) + mixed)
    splits = split_articles(articles, reading.validation_articles, reading.test_articles,
                            settings.seed)
    summary: dict[str, Any] = {
        "source": "reading", "path": reading.path,
        "conversations": {split: len(part) for split, part in rows.items()},
        "sources_per_prompt": settings.sources, "source_tokens": answers.source_tokens,
        "dropped": dict(sorted(dropped.items())), "grounded_train_conversations": mixed}
    for split, part in examples.items():
        summary[split] = {**split_summary(splits[split], part), "tokens": length_summary(
            token_lengths(tokenizer, rows[split]), params.sft.train.max_length)}
    return rows, summary


def write_splits(rows: Rows, summary: dict[str, Any], out: Path, metrics: Path) -> None:
    with atomic_directory(out) as staging:
        for name, part in rows.items():
            write_jsonl(staging / f"{name}.jsonl", part)
    write_json(metrics, summary)
