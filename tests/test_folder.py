"""The folder path as a library call: a folder of Markdown files and judged questions becomes a
BEIR folder and an index embedded with the chosen set, searchable at once."""

import json

import pytest

from hybridrag.folder import index_folder
from hybridrag.ingest import read_beir
from hybridrag.jsonl import RowPolicy

from .conftest import MODEL, PARAMS, RETRIEVAL, open_searcher

FILES = {
    "kettle.md": "# Kettle\n\n## Descaling\n\nBoil vinegar and water to remove limescale.\n\n"
                 "## Safety\n\nNever open the lid while the water boils.\n",
    "bike/chain.md": "# Bicycle chain\n\n## Oiling\n\nDrip oil on each roller and wipe the rest "
                     "off.\n",
    "notes.txt": "Shopping list: bread, milk, eggs.",
}


def folder_params(tmp_path, questions):
    folder = tmp_path / "files"
    for name, text in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in questions))
    return PARAMS.updated(
        folder=PARAMS.folder.updated(path=str(folder), questions=str(path), on_error="raise",
                                     include=("*.md",)),
        chunk=PARAMS.chunk.updated(size=12, overlap=3),
        embed=PARAMS.embed.updated(device="cpu"), retrieval=RETRIEVAL)


def test_a_folder_and_its_questions_become_an_index_searched_at_once(tmp_path):
    params = folder_params(tmp_path, [
        {"question": "How do I remove limescale?", "relevant": ["kettle.md"]},
        {"question": "What is the capital of Australia?", "answerable": False}])
    summary = index_folder(params, {"base": MODEL}, tmp_path / "data", tmp_path / "index",
                           RowPolicy("raise"))
    assert (summary["documents"], summary["embedding"], summary["embedder"]) == (2, "base", MODEL)
    assert (summary["judged_questions"], summary["unanswerable_questions"]) == (1, 1)
    dataset = read_beir(tmp_path / "data")
    assert sorted(d.doc_id for d in dataset.documents) == ["bike/chain.md", "kettle.md"]  # *.md
    [judged] = dataset.qrels["test"].values()
    assert judged == {"kettle.md": 1}
    with open_searcher(tmp_path / "index") as searcher:
        assert searcher.manifest["chunks"] == summary["chunks"] >= 3  # a chunk per section
        assert set(searcher.manifest["embeddings"]) == {"base"}
        top = searcher.search("How do I remove limescale?", k=1)[0]
        assert top.doc_id == "kettle.md"
        assert searcher.chunks([top.chunk_id])[top.chunk_id].section == "Kettle › Descaling"


def test_an_embedding_set_without_an_embedder_is_refused_before_any_work(tmp_path):
    params = folder_params(tmp_path, []).updated(retrieval=RETRIEVAL.updated(embedding="tuned"))
    with pytest.raises(ValueError, match=r"retrieval.embedding is 'tuned'.*\['base'\]"):
        index_folder(params, {"base": MODEL}, tmp_path / "data", tmp_path / "index",
                     RowPolicy("raise"))
    assert not (tmp_path / "data").exists()
