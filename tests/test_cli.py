"""What `hybridrag ask` prints under an answer (the /ask response's shape, from this process's
models or a service's): the sources, the cited ones marked, and the passage each cited source
showed the model; the options --server refuses."""

import pytest

from hybridrag.cli import main, source_lines
from support.ports import free_port

SOURCES = [
    {"number": 1, "doc_id": "Louvre", "chunk_id": 4, "title": "Louvre",
     "text": "The Louvre is a museum in Paris.", "source_path": None, "page": None,
     "section": None, "cited": False},
    {"number": 2, "doc_id": "Mona_Lisa", "chunk_id": 7, "title": "Mona Lisa",
     "text": "The Mona Lisa is a  portrait\n painted by Leonardo da Vinci.",
     "source_path": "art/mona.pdf", "page": 3, "section": None, "cited": True},
]


def test_cited_sources_are_marked_and_their_passage_shown():
    assert source_lines(SOURCES, [2]) == [
        " [1] Louvre  [Louvre, chunk 4]",
        "*[2] Mona Lisa  [art/mona.pdf, p. 3]",
        "",
        "[2] Mona Lisa:",
        "  > The Mona Lisa is a portrait painted by Leonardo da Vinci.",
    ]


def test_an_answer_without_citation_says_so():
    assert source_lines(SOURCES, [])[-1] == "(the answer cites no source)"
    assert not any(line.startswith("  > ") for line in source_lines(SOURCES, []))


def test_a_service_chooses_its_own_models(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["ask", "q", "--server", "http://127.0.0.1:9", "--chat-model", "lora",
              "--runtime", "onnx"])
    assert stopped.value.code == 2
    assert "--chat-model, --runtime: the service's own settings apply" in capsys.readouterr().err


def test_an_unreachable_service_is_named(capsys):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(SystemExit) as stopped:
        main(["ask", "q", "--server", url])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert f"no hybridrag service at {url}" in error
    assert "hybridrag serve" in error
