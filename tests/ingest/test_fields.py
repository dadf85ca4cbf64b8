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
])
def test_bad_fields_are_named(record, field, message):
    with pytest.raises(FieldError, match=message) as caught:
        parse_document(record)
    assert caught.value.field == field


def test_queries_need_text():
    assert parse_query({"_id": "q", "text": " hi "}).text == "hi"
    with pytest.raises(FieldError, match="'text' is missing"):
        parse_query({"_id": "q"})
