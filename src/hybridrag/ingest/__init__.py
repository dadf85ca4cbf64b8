"""Sources of documents (with metadata), queries and relevance judgements."""

from __future__ import annotations

from pathlib import Path

from hybridrag.config import IngestParams
from hybridrag.ingest.beir import read_beir, read_documents, write_beir
from hybridrag.ingest.splits import split_by_document, subsample_documents
from hybridrag.ingest.wiki import read_wiki
from hybridrag.jsonl import RowPolicy
from hybridrag.records import Dataset

__all__ = ["load_dataset", "read_beir", "write_beir"]


def load_dataset(params: IngestParams, policy: RowPolicy) -> Dataset:
    """Read the configured source, subsample it, and split unsplit judgements into train/test."""
    if params.source == "wiki":
        dataset = read_wiki(params.wiki_language, policy)
    elif params.source == "beir":
        dataset = read_beir(Path(params.path), policy)
    else:
        dataset = Dataset(documents=read_documents(Path(params.path), policy))
    if not dataset.documents:
        raise ValueError(f"ingest: the {params.source} source produced no valid documents")
    if params.max_documents is not None:
        dataset = subsample_documents(dataset, params.max_documents, params.seed)
    if set(dataset.qrels) == {"all"}:
        dataset.qrels = split_by_document(dataset.qrels["all"], params.test_fraction, params.seed)
    return dataset
