"""Deterministic subsets and train/test splits of a dataset."""

from __future__ import annotations

import random

from hybridrag.records import Dataset, Qrels


def subsample_documents(dataset: Dataset, max_documents: int, seed: int) -> Dataset:
    """Keep a seeded random sample of documents, the judgements on them, and their queries."""
    if len(dataset.documents) <= max_documents:
        return dataset
    chosen = set(random.Random(seed).sample(sorted(d.doc_id for d in dataset.documents),
                                            max_documents))
    documents = [d for d in dataset.documents if d.doc_id in chosen]
    qrels: dict[str, Qrels] = {}
    for split, judged in dataset.qrels.items():
        kept = {q: {d: g for d, g in docs.items() if d in chosen} for q, docs in judged.items()}
        qrels[split] = {q: docs for q, docs in kept.items() if any(g > 0 for g in docs.values())}
    used = {q for judged in qrels.values() for q in judged}
    queries = [q for q in dataset.queries if q.query_id in used]
    return Dataset(documents=documents, queries=queries, qrels=qrels)


def split_by_document(qrels: Qrels, test_fraction: float, seed: int) -> dict[str, Qrels]:
    """Split queries into train/test so that no train query is answered by a test document.

    A seeded shuffle of the relevant documents puts `test_fraction` of them in test; a query
    goes to test when any of its relevant documents did.
    """
    documents = sorted({d for docs in qrels.values() for d, g in docs.items() if g > 0})
    random.Random(seed).shuffle(documents)
    test_documents = set(documents[: round(test_fraction * len(documents))])
    splits: dict[str, Qrels] = {"train": {}, "test": {}}
    for query_id, docs in qrels.items():
        in_test = any(d in test_documents for d, g in docs.items() if g > 0)
        splits["test" if in_test else "train"][query_id] = docs
    return splits
