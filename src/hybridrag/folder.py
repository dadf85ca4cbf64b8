"""The folder path: a folder of files (with its judged questions) read as ingest reads files,
then chunked, embedded and indexed with the trained models as they are (stage index_folder)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from hybridrag.config import Params
from hybridrag.ingest import describe_corpus, load_dataset, write_beir
from hybridrag.jsonl import RowPolicy
from hybridrag.pipeline import index_documents


def index_folder(params: Params, embedders: Mapping[str, str], data: str | os.PathLike[str],
                 index: str | os.PathLike[str], policy: RowPolicy) -> dict[str, Any]:
    """The fast path: the folder of `params.folder` read as ingest reads files (with its judged
    questions) into the BEIR folder `data`, then chunked, embedded with the embedder of the set
    `retrieval.embedding` names (`embedders`: set name -> model) and indexed into `index`.
    Returns what was indexed."""
    name = params.retrieval.embedding
    if name not in embedders:
        raise ValueError(f"retrieval.embedding is {name!r}; the folder can be embedded as "
                         f"{sorted(embedders)}")
    dataset = load_dataset(params.folder.as_ingest(), policy)
    write_beir(dataset, data)
    manifest = index_documents(index, dataset.documents, params.chunk,
                               params.embed.updated(model=embedders[name]), params.build_db,
                               progress=True, name=name)
    return {"documents": len(dataset.documents), **describe_corpus(dataset.documents),
            "chunks": manifest["chunks"], "embedding": name, "embedder": embedders[name],
            "judged_questions": sum(q.answerable for q in dataset.questions),
            "unanswerable_questions": sum(not q.answerable for q in dataset.questions)}
