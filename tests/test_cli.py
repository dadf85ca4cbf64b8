"""What `hybridrag ask` prints under an answer: the sources, the cited ones marked, and the
passage each cited source showed the model."""

from hybridrag.answers.ask import Answer
from hybridrag.answers.prompt import Source
from hybridrag.cli import source_lines

SOURCES = [Source(1, "Louvre", 4, "Louvre", "The Louvre is a museum in Paris."),
           Source(2, "Mona_Lisa", 7, "Mona Lisa", "The Mona Lisa is a  portrait\n painted by "
                  "Leonardo da Vinci.", "art/mona.pdf", 3)]


def test_cited_sources_are_marked_and_their_passage_shown():
    reply = Answer("Who painted the Mona Lisa?", "[2] Leonardo da Vinci", SOURCES, [2], True)
    assert source_lines(reply) == [
        " [1] Louvre  [Louvre, chunk 4]",
        "*[2] Mona Lisa  [art/mona.pdf, p. 3]",
        "",
        "[2] Mona Lisa:",
        "  > The Mona Lisa is a portrait painted by Leonardo da Vinci.",
    ]


def test_an_answer_without_citation_says_so():
    reply = Answer("Who?", "The sources do not contain the answer.", SOURCES, [], True)
    assert source_lines(reply)[-1] == "(the answer cites no source)"
    assert not any(line.startswith("  > ") for line in source_lines(reply))
