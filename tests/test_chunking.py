import pytest

from hybridrag.chunking import chunk_documents, read_chunks, word_windows, write_chunks
from hybridrag.errors import InputError
from hybridrag.records import Document, file_location


def words(text, spans):
    return [text[s:e].split() for s, e in spans]


def test_windows_overlap_and_cover_every_word():
    text = "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9"
    spans = word_windows(text, size=4, overlap=1)
    assert words(text, spans) == [["w0", "w1", "w2", "w3"], ["w3", "w4", "w5", "w6"],
                                  ["w6", "w7", "w8", "w9"]]


def test_last_window_ends_at_final_word_without_a_tail_duplicate():
    text = "a b c d e"
    assert words(text, word_windows(text, size=4, overlap=2)) == [["a", "b", "c", "d"],
                                                                  ["c", "d", "e"]]
    assert words(text, word_windows(text, size=10, overlap=2)) == [["a", "b", "c", "d", "e"]]


def test_offsets_point_into_the_original_text():
    document = Document("d1", "T", "  First  line.\nSecond\tline here.  ")
    chunks = list(chunk_documents([document], size=2, overlap=0))
    assert [c.text for c in chunks] == ["First  line.", "Second\tline", "here."]
    for chunk in chunks:
        assert document.text[chunk.start:chunk.end] == chunk.text
    assert [c.position for c in chunks] == [0, 1, 2]


def test_chunk_ids_run_across_documents():
    docs = [Document("a", "", "one two three"), Document("b", "", "four")]
    chunks = list(chunk_documents(docs, size=2, overlap=0))
    assert [(c.chunk_id, c.doc_id) for c in chunks] == [(0, "a"), (1, "a"), (2, "b")]


@pytest.mark.parametrize("size,overlap", [(0, 0), (3, 3), (3, -1)])
def test_bad_sizes_are_refused(size, overlap):
    with pytest.raises(ValueError):
        word_windows("a b c", size, overlap)


def test_chunks_round_trip_and_bad_rows_name_the_line(tmp_path):
    chunks = list(chunk_documents([Document("a", "", "one two three")], size=2, overlap=1))
    path = tmp_path / "chunks.jsonl"
    write_chunks(path, chunks)
    assert read_chunks(path) == chunks
    path.write_text(path.read_text() + '{"chunk_id": 9}\n')
    with pytest.raises(InputError, match=r"chunks.jsonl:3: not a chunk row"):
        read_chunks(path)


def test_a_document_with_pages_is_chunked_page_by_page():
    text = "p1 a b c\n\np2 d\n\n\n\np4 e f"  # page 3 has no text layer
    document = Document("d", "T", text, page_starts=(0, 10, 16, 18))
    chunks = list(chunk_documents([document], size=3, overlap=1))
    assert [(c.text, c.page) for c in chunks] == [
        ("p1 a b", 1), ("b c", 1), ("p2 d", 2), ("p4 e f", 4)]
    assert all(text[c.start:c.end] == c.text for c in chunks)
    assert [c.page for c in chunk_documents([Document("e", "", "x y")], 3, 1)] == [None]


def test_a_document_with_sections_is_chunked_section_by_section_and_page_by_page():
    text = "Intro a b\n\nSetup c d e\n\nLinux f\n\np2 g h"
    sections = ((11, "Setup"), (24, "Setup › Linux"))
    document = Document("d", "T", text, page_starts=(0, 33), sections=sections)
    chunks = list(chunk_documents([document], size=3, overlap=1))
    # by hand: the text before the first heading has no section; a page break inside a section
    # starts a new window with the same section
    assert [(c.text, c.page, c.section) for c in chunks] == [
        ("Intro a b", 1, None), ("Setup c d", 1, "Setup"), ("d e", 1, "Setup"),
        ("Linux f", 1, "Setup › Linux"), ("p2 g h", 2, "Setup › Linux")]
    assert all(text[c.start:c.end] == c.text for c in chunks)


def test_a_file_location_names_the_file_page_and_section():
    assert file_location("guide.md", None, "Install › Linux") == "guide.md › Install › Linux"
    assert file_location("r.pdf", 4) == "r.pdf, p. 4" and file_location(None, 4, "A") is None
