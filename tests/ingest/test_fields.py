import pytest

from hybridrag.ingest.fields import FieldError, document_to_beir, parse_document, parse_query
from hybridrag.records import Document


def test_flat_and_beir_rows_give_the_same_document():
    flat = {"id": 7, "title": " T ", "text": "body", "author": ["Ada", "Alan"], "year": 1950,
            "keywords": ["ml", "ML", " logic "], "topic": "Computing"}
    document = parse_document(flat)
    assert document == Document("7", "T", "body", "Ada; Alan", 1950, ("ml", "logic"), "Computing")
    assert parse_document(document_to_beir(document)) == document


@pytest.mark.parametrize("record,field,message", [
    ({"title": "x", "text": "y"}, "_id", "is missing"),
    ({"_id": "", "text": "y"}, "_id", "is empty"),
    ({"_id": "a\tb", "text": "y"}, "_id", "tabs"),
    ({"_id": 1.5, "text": "y"}, "_id", "string or integer"),
    ({"_id": "a"}, "text", "is missing"),
    ({"_id": "a", "text": "   "}, "text", "is empty"),
    ({"_id": "a", "text": 3}, "text", "must be a string, got int 3"),
    ({"_id": "a", "text": "t", "year": "1999"}, "year", "must be an integer, got str '1999'"),
    ({"_id": "a", "text": "t", "year": True}, "year", "must be an integer"),
    ({"_id": "a", "text": "t", "keywords": "a, b"}, "keywords", "list of strings"),
    ({"_id": "a", "text": "t", "author": 5}, "author", "string or a list"),
    ({"_id": "a", "text": "t", "metadata": [1]}, "metadata", "must be an object"),
    ({"_id": "a", "text": "t", "language": "english"}, "language", "ISO 639 code"),
    ({"_id": "a", "text": "t", "page_starts": [3, 9]}, "page_starts", "starting at 0"),
    ({"_id": "a", "text": "t", "page_starts": [0, 9, 9]}, "page_starts", "increasing"),
    ({"_id": "a", "text": "t", "source_path": 4}, "source_path", "must be a string"),
    ({"_id": "a", "text": "t", "sections": [[5, "B"], [2, "A"]]}, "sections", "increasing"),
    ({"_id": "a", "text": "t", "sections": [[0, ""]]}, "sections", "heading path"),
    ({"_id": "a", "text": "t", "sections": [0, "A"]}, "sections", "pairs"),
])
def test_bad_fields_are_named(record, field, message):
    with pytest.raises(FieldError, match=message) as caught:
        parse_document(record)
    assert caught.value.field == field


def test_file_metadata_round_trips_through_beir_rows():
    document = parse_document({
        "id": "notes/a.pdf", "title": "A", "text": "page one page two", "language": "EN",
        "source_path": "notes/a.pdf", "file_type": "pdf", "content_hash": "ab12",
        "modified": "2026-01-02T03:04:05+00:00", "page_starts": [0, 9],
        "sections": [[0, "A"], [4, "A › B"]]})
    assert (document.language, document.page_starts) == ("en", (0, 9))
    assert document.sections == ((0, "A"), (4, "A › B"))
    row = document_to_beir(document)
    assert row["metadata"]["source_path"] == "notes/a.pdf" and "author" not in row["metadata"]
    assert parse_document(row) == document


def test_queries_need_text():
    assert parse_query({"_id": "q", "text": " hi "}).text == "hi"
    with pytest.raises(FieldError, match="'text' is missing"):
        parse_query({"_id": "q"})
