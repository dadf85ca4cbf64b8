"""Sources of documents (with metadata), queries and relevance judgements."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hybridrag.config import IngestParams
from hybridrag.errors import InputError
from hybridrag.ingest.beir import read_beir, read_documents, write_beir
from hybridrag.ingest.files import read_folder
from hybridrag.ingest.questions import add_questions, read_questions
from hybridrag.ingest.splits import split_by_document, subsample_documents
from hybridrag.ingest.wiki import read_wiki
from hybridrag.jsonl import RowPolicy
from hybridrag.language import main_language, with_languages
from hybridrag.records import Dataset, Document

__all__ = ["describe_corpus", "load_dataset", "read_beir", "write_beir"]


def load_dataset(params: IngestParams, policy: RowPolicy) -> Dataset:
    """Read the configured source, subsample it, give every document its language, split
    unsplit judgements into train/test, and add the user's questions (ingest.questions)."""
    known_language = None
    if params.source == "wiki":
        dataset = read_wiki(params.wiki_language, policy)
        known_language = params.wiki_language.split("-")[0]
    elif params.source == "beir":
        dataset = read_beir(Path(params.path), policy)
    elif params.source == "files":
        dataset = Dataset(documents=read_folder(Path(params.path), params.include, params.exclude,
                                                policy))
    else:
        dataset = Dataset(documents=read_documents(Path(params.path), policy))
    if not dataset.documents:
        raise InputError(params.path or params.source, None, f"the {params.source} source "
                         "produced no valid documents", "no documents")
    if params.max_documents is not None:
        dataset = subsample_documents(dataset, params.max_documents, params.seed)
    dataset.documents = with_languages(dataset.documents, known_language)
    if set(dataset.qrels) == {"all"}:
        dataset.qrels = split_by_document(dataset.qrels["all"], params.test_fraction, params.seed)
    if params.questions:
        dataset = add_questions(dataset, read_questions(params.questions, dataset.documents, policy))
    return dataset


def describe_corpus(documents: list[Document]) -> dict[str, object]:
    """What a corpus holds: documents by language and by file type, and its main language."""
    return {
        "main_language": main_language(documents),
        "languages": dict(sorted(Counter(d.language or "unknown" for d in documents).items())),
        "file_types": dict(sorted(Counter(d.file_type for d in documents if d.file_type).items())),
        "with_pages": sum(1 for d in documents if d.page_starts),
    }
