"""Measuring chat generation, for bench/generation.py: reading-sized prompts from a SQuAD-format
file, time to first token, replies and tokens per second, and how alike two runtimes' replies are."""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hybridrag.answers.prompt import Source, answer_text, build_prompt, token_trimmer
from hybridrag.chat.generation import ChatGenerator, Generated
from hybridrag.chat.template import Messages
from hybridrag.metrics.squad import token_f1


def reading_prompts(squad_file: Path, tokenizer: Any, count: int, sources: int = 3,
                    source_tokens: int = 160, seed: int = 0) -> list[tuple[Messages, list[str]]]:
    """(prompt, gold answers) for `count` answerable questions: each question's paragraph and
    `sources - 1` other paragraphs of its article, shuffled, cut to `source_tokens` tokens."""
    articles = json.loads(squad_file.read_text())["data"]
    rng = random.Random(seed)
    trim = token_trimmer(tokenizer, source_tokens)
    candidates = [(article, paragraph, qa) for article in articles
                  for paragraph in article["paragraphs"] for qa in paragraph["qas"]
                  if not qa.get("is_impossible") and len(article["paragraphs"]) >= sources]
    prompts = []
    for article, paragraph, qa in rng.sample(candidates, count):
        shown = [paragraph, *rng.sample([p for p in article["paragraphs"] if p is not paragraph],
                                        sources - 1)]
        rng.shuffle(shown)
        numbered = [Source(n, f"{article['title']}#{n}", 0, article["title"], trim(p["context"]))
                    for n, p in enumerate(shown, start=1)]
        prompts.append((build_prompt(qa["question"], numbered), [a["text"] for a in qa["answers"]]))
    return prompts


def generated_tokens(replies: Sequence[Generated]) -> int:
    """Tokens the model produced, <|im_end|> included where it ended by itself."""
    return sum(len(r.tokens) + r.stopped for r in replies)


def time_replies(generator: ChatGenerator, prompts: Sequence[Messages], max_new_tokens: int,
                 batch_size: int) -> tuple[list[Generated], dict[str, float]]:
    """The greedy replies, and replies/s and tokens/s over the whole batch run."""
    started = time.perf_counter()
    replies = generator.replies(prompts, max_new_tokens, batch_size)
    seconds = time.perf_counter() - started
    return replies, {"seconds": round(seconds, 2),
                     "replies_per_second": round(len(replies) / seconds, 3),
                     "tokens_per_second": round(generated_tokens(replies) / seconds, 2)}


def time_first_tokens(generator: ChatGenerator, prompts: Sequence[Messages],
                      max_new_tokens: int) -> dict[str, float]:
    """Streamed one at a time: seconds to the first text piece (p50 and p95) and to the end."""
    first, whole = [], []
    for prompt in prompts:
        started = time.perf_counter()
        stream = generator.stream(prompt, max_new_tokens)
        for index, _ in enumerate(stream):
            if index == 0:
                first.append(time.perf_counter() - started)
        whole.append(time.perf_counter() - started)
    return {"first_token_p50": round(percentile(first, 50), 3),
            "first_token_p95": round(percentile(first, 95), 3),
            "reply_p50": round(percentile(whole, 50), 3)}


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def agreement(replies: Sequence[Generated], reference: Sequence[Generated]) -> dict[str, float]:
    """How alike two runs' greedy replies are: the share identical token for token, and the
    median number of equal first tokens."""
    prefixes = []
    for reply, other in zip(replies, reference, strict=True):
        n = 0
        for a, b in zip(reply.tokens, other.tokens, strict=False):
            if a != b:
                break
            n += 1
        prefixes.append(n)
    return {"identical": round(statistics.fmean(r.tokens == o.tokens for r, o in
                                                zip(replies, reference, strict=True)), 4),
            "equal_first_tokens_median": statistics.median(prefixes)}


def reading_scores(replies: Sequence[Generated], golds: Sequence[Sequence[str]]) -> dict[str, float]:
    """SQuAD token F1 of the replies (citations stripped) and the share holding a gold answer."""
    from hybridrag.metrics.squad import normalize_answer

    return {"answer_f1": round(statistics.fmean(token_f1(answer_text(r.text), g)
                                                for r, g in zip(replies, golds, strict=True)), 4),
            "holds_answer": round(statistics.fmean(
                any(normalize_answer(a) in normalize_answer(r.text) for a in g)
                for r, g in zip(replies, golds, strict=True)), 4)}
