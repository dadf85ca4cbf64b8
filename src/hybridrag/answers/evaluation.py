"""The eval_answers stage: the product's answers, end to end, to held-out test queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from hybridrag.answers.ask import Answer, answer
from hybridrag.answers.gate import Gate, abstention_rates
from hybridrag.answers.scoring import (
    BASELINE,
    GroundedItem,
    judge,
    score_reply,
    summarize,
    top_source_reply,
)
from hybridrag.atomic import atomic_write_text
from hybridrag.chat.generation import ChatGenerator
from hybridrag.config import AnswersParams
from hybridrag.records import Dataset, Query, UserQuestion
from hybridrag.reporting import markdown_table
from hybridrag.search.searcher import Searcher


def evaluate_answers(generator: ChatGenerator, searcher: Searcher, dataset: Dataset, split: str,
                     settings: AnswersParams, gate: Gate | None = None
                     ) -> tuple[dict[str, Any], list[Answer], list[GroundedItem]]:
    """A seeded sample of `split`'s questions (`questions_to_answer`) answered as `hybridrag
    ask` answers them (through `gate` when given), scored; the retriever-only baseline (the
    first source's first sentence, cited) beside, and what the gate turned away."""
    qrels = dataset.qrels.get(split, {})
    queries = questions_to_answer(dataset, split, settings.max_queries, settings.seed)
    titles = {d.doc_id: d.title for d in dataset.documents}
    users = {q.query_id: q for q in dataset.questions}
    answers = answer(generator, searcher, [q.text for q in queries], settings, gate=gate)
    items = [with_user_answers(judge(a.question, a.sources, {
        d for d, g in qrels.get(q.query_id, {}).items() if g > 0}, titles), users.get(q.query_id))
             for q, a in zip(queries, answers, strict=True)]
    model = summarize(items, [score_reply(i, a.text, a.stopped)
                              for i, a in zip(items, answers, strict=True)])
    baseline = summarize(items, [score_reply(i, top_source_reply(i), True)
                                 for i in items])
    summary = {"queries": len(queries), "split": split, "sources": settings.sources,
               "reranked_sources": settings.rerank, "chat_model": settings.chat_model,
               "runtime": f"{generator.runtime} {generator.precision}",
               "retrieved_relevant": round(sum(i.answerable for i in items) / max(len(items), 1), 4),
               settings.chat_model: model, BASELINE: baseline,
               "gate": gate_summary(gate, answers, items)}
    return summary, answers, items


def questions_to_answer(dataset: Dataset, split: str, max_queries: int | None, seed: int
                        ) -> list[Query]:
    """`split`'s judged queries and the user's unanswerable questions of `split` (ingest.questions:
    a good answer says the sources lack it), at most `max_queries` of them (a seeded choice)."""
    from hybridrag.evaluation.retrieval import seeded_subset

    qrels = dataset.qrels.get(split, {})
    unanswerable = {q.query_id for q in dataset.questions if q.split == split and not q.answerable}
    asked = [q for q in dataset.queries if q.query_id in unanswerable
             or any(g > 0 for g in qrels.get(q.query_id, {}).values())]
    return seeded_subset(asked, max_queries, seed)


def with_user_answers(item: GroundedItem, question: UserQuestion | None) -> GroundedItem:
    """`item` scored also on the answer the user gave for its question (SQuAD exact match and F1;
    none for an unanswerable one), when the question is the user's and has one."""
    if question is None or (question.answerable and question.answers is None):
        return item
    return replace(item, answers=question.answers)


def gate_summary(gate: Gate | None, answers: Sequence[Answer], items: Sequence[GroundedItem]
                 ) -> dict[str, Any]:
    """What the gate did on the test queries: how many it turned away, the share of the
    queries without a relevant source it caught (recall), the share of those it turned away
    that had none (precision), and the answerable ones it turned away (its cost)."""
    if gate is None:
        return {"threshold": None}
    gated = [(a.gated is not None, i.answerable) for a, i in zip(answers, items, strict=True)]
    return {"threshold": gate.threshold, "chosen_on": gate.chosen_on,
            "gated": sum(g for g, _ in gated),
            **abstention_rates([g for g, answerable in gated if answerable],
                               [g for g, answerable in gated if not answerable])}


def gate_line(gate: dict[str, Any]) -> str:
    if gate.get("threshold") is None:
        return ("The answerability gate is off (answers.gate, sources not reranked, or "
                "choose_gate found no threshold that catches anything within its cost).")
    return (f"The answerability gate (threshold {gate['threshold']:.3f} on the best source's "
            f"cross-encoder score, chosen on {gate['chosen_on']}) turned away "
            f"{gate['gated']} queries without asking the model: it caught "
            f"{gate['abstention_recall']} of those without a relevant source (precision "
            f"{gate['abstention_precision']}) and turned away {gate['false_abstention']} of "
            "those with one.")


def write_answers_report(path: Path, summary: dict[str, Any], answers: Sequence[Answer],
                         items: Sequence[GroundedItem], samples: int = 5) -> None:
    columns = ["items", "cites_relevant", "names_title", "abstains_unanswerable",
               "false_abstention", "well_formed", "rouge_l", "reply_words"]
    models = [summary["chat_model"], BASELINE]
    lines = ["# Grounded answers, as `hybridrag ask` gives them", "",
             f"{summary['queries']} held-out `{summary['split']}` queries; the chat model "
             f"`{summary['chat_model']}` answers from the top {summary['sources']} "
             f"{'reranked ' if summary['reranked_sources'] else ''}sources (a relevant one among "
             f"them for {summary['retrieved_relevant']:.1%}). `{BASELINE}`: the first source's "
             "first sentence, cited [1]. Rates: cites_relevant, names_title, false_abstention over "
             "the queries with a relevant source; abstains_unanswerable over those without.", "",
             gate_line(summary.get("gate", {})), "",
             markdown_table(["model", *columns], [[m, *(summary[m].get(c) for c in columns)]
                                                   for m in models]),
             "## Samples", ""]
    for reply, item in list(zip(answers, items, strict=True))[:samples]:
        lines += [f"**{reply.question}** — sources: " + "; ".join(
            f"[{s.number}] {s.title}{' (relevant)' if s.number in item.relevant else ''}"
            for s in reply.sources), "",
                  f"- answer: {' '.join(reply.text.split())}",
                  f"- reference: {item.reference}", ""]
    atomic_write_text(path, "\n".join(lines))
