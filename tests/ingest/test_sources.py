import json

import pytest

from hybridrag.errors import InputError
from hybridrag.ingest import load_dataset, read_beir, write_beir
from hybridrag.ingest.beir import read_documents, read_queries
from hybridrag.ingest.splits import split_by_document, subsample_documents
from hybridrag.ingest.wiki import read_wiki
from hybridrag.jsonl import RowPolicy

from ..conftest import PARAMS


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"id": "a", "title": "A", "text": "alpha", "year": 2001})
ROWS = [
    GOOD,
    "{not json",
    json.dumps({"id": "b", "text": "beta", "year": "2001"}),
    json.dumps([1, 2]),
    "",
    json.dumps({"id": "a", "text": "again"}),
    json.dumps({"id": "c", "text": "gamma", "keywords": ["x"]}),
]


@pytest.mark.parametrize("bad_row,message", [
    ("{not json", "not valid JSON"),
    (json.dumps({"id": "b", "text": "beta", "year": "2001"}), "field 'year' must be an integer"),
    (json.dumps([1, 2]), "expected a JSON object"),
    (json.dumps({"id": "a", "text": "again"}), "duplicate document id 'a' \\(first seen on line 1\\)"),
])
def test_first_bad_row_raises_with_file_and_line(tmp_path, bad_row, message):
    path = write_lines(tmp_path / "docs.jsonl", [GOOD, "", bad_row])
    with pytest.raises(InputError, match=rf"docs.jsonl:3: {message}"):
        read_documents(path, RowPolicy("raise"))


def test_a_repeated_query_id_is_named_with_its_first_line(tmp_path):
    path = write_lines(tmp_path / "queries.jsonl", [json.dumps({"_id": "q1", "text": "x?"}),
                                                    json.dumps({"_id": "q1", "text": "y?"})])
    with pytest.raises(InputError, match=r"queries.jsonl:2: duplicate query id 'q1' "
                                         r"\(first seen on line 1\)"):
        read_queries(path, RowPolicy("raise"))
    assert [q.text for q in read_queries(path, RowPolicy("skip"))] == ["x?"]


def test_skip_policy_counts_every_bad_row(tmp_path):
    path = write_lines(tmp_path / "docs.jsonl", ROWS)
    policy = RowPolicy("skip")
    documents = read_documents(path, policy)
    assert [d.doc_id for d in documents] == ["a", "c"]
    assert policy.summary()["skipped_rows"] == 4
    record = policy.skipped_record()
    assert record["skipped_rows"] == 4 and record["skipped_by_kind"] == {
        "duplicate id": 1, "field 'year'": 1, "invalid JSON": 1, "not an object": 1}
    assert {kind: len(where) for kind, where in record["skipped"].items()} == \
        record["skipped_by_kind"]
    assert policy.skipped == {"invalid JSON": 1, "field 'year'": 1, "not an object": 1,
                              "duplicate id": 1}
    assert policy.examples[0].endswith("docs.jsonl:2: not valid JSON (Expecting property name "
                                       "enclosed in double quotes, column 2)")


def make_beir(root, qrels_lines):
    root.mkdir()
    write_lines(root / "corpus.jsonl", [json.dumps({"_id": "d1", "title": "T", "text": "x"}),
                                        json.dumps({"_id": "d2", "title": "U", "text": "y"})])
    write_lines(root / "queries.jsonl", [json.dumps({"_id": "q1", "text": "x?"})])
    (root / "qrels").mkdir()
    write_lines(root / "qrels" / "test.tsv", ["query-id\tcorpus-id\tscore", *qrels_lines])
    return root


def test_beir_round_trip(tmp_path):
    source = make_beir(tmp_path / "in", ["q1\td1\t1", "q1\td2\t0"])
    dataset = read_beir(source)
    assert dataset.qrels == {"test": {"q1": {"d1": 1, "d2": 0}}}
    write_beir(dataset, tmp_path / "out")
    again = read_beir(tmp_path / "out")
    assert again.documents == dataset.documents
    assert again.queries == dataset.queries and again.qrels == dataset.qrels


@pytest.mark.parametrize("line,message", [
    ("q1\td1", "expected 3 tab-separated columns"),
    ("q1\td1\thigh", "score must be an integer, got 'high'"),
    ("q9\td1\t1", "query 'q9' is not in queries.jsonl"),
    ("q1\td9\t1", "document 'd9' is not in corpus.jsonl"),
])
def test_bad_qrels_name_the_line(tmp_path, line, message):
    source = make_beir(tmp_path / "in", ["q1\td1\t1", line])
    with pytest.raises(InputError, match=rf"test.tsv:3: {message}"):
        read_beir(source)
    policy = RowPolicy("skip")
    assert read_beir(source, policy).qrels == {"test": {"q1": {"d1": 1}}}
    assert sum(policy.skipped.values()) == 1


def test_missing_beir_folder_is_named(tmp_path):
    with pytest.raises(InputError, match="corpus.jsonl is missing"):
        read_beir(tmp_path)


def test_split_by_document_is_seeded_and_disjoint():
    qrels = {f"q{i}": {f"d{i}": 1} for i in range(100)}
    splits = split_by_document(qrels, 0.3, seed=5)
    assert len(splits["test"]) == 30 and len(splits["train"]) == 70
    assert splits == split_by_document(qrels, 0.3, seed=5)
    assert splits != split_by_document(qrels, 0.3, seed=6)
    test_docs = {d for docs in splits["test"].values() for d in docs}
    assert not test_docs & {d for docs in splits["train"].values() for d in docs}


def test_wiki_source_has_unique_description_queries():
    dataset = read_wiki("en-us")
    assert len(dataset.documents) > 9000
    by_id = {d.doc_id: d for d in dataset.documents}
    assert by_id["Tomato"].topic and "berry" in by_id["Tomato"].text
    queries = {q.query_id: q.text for q in dataset.queries}
    assert len(queries) == len(dataset.qrels["all"]) > 9000
    assert len(set(queries.values())) == len(queries)
    assert dataset.qrels["all"]["desc:Tomato"] == {"Tomato": 1}


def test_load_dataset_subsamples_and_splits_wiki():
    dataset = load_dataset(PARAMS.ingest.updated(max_documents=300, seed=1), RowPolicy())
    assert len(dataset.documents) == 300
    assert set(dataset.qrels) == {"train", "test"}
    kept = {d.doc_id for d in dataset.documents}
    for split in dataset.qrels.values():
        assert all(set(docs) <= kept for docs in split.values())
    again = load_dataset(PARAMS.ingest.updated(max_documents=300, seed=1), RowPolicy())
    assert [d.doc_id for d in again.documents] == [d.doc_id for d in dataset.documents]


def test_subsample_keeps_everything_when_small():
    dataset = load_dataset(PARAMS.ingest.updated(max_documents=300, seed=1), RowPolicy())
    assert subsample_documents(dataset, 1000, seed=0) is dataset
