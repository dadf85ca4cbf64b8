"""Training pairs: real pairs pick the best chunk, synthetic questions pass three filters, the
split never puts one document on both sides."""

import numpy as np
import pytest

from hybridrag.errors import InputError
from hybridrag.learning.pairs import (
    ChunkVectors,
    Pair,
    copies_passage,
    filter_synthetic,
    held_out_documents,
    is_question,
    pair_counts,
    read_pairs,
    real_pairs,
    split_by_document,
    training_pairs,
    write_pairs,
)
from hybridrag.records import Chunk, Dataset, Document, Query


def chunk_vectors() -> ChunkVectors:
    """Three chunks: a1, a2 of document A, b1 of document B; vectors along the axes."""
    chunks = [Chunk(10, "A", 0, 0, 5, "tomato is a berry"), Chunk(11, "A", 1, 5, 9, "red fruit"),
              Chunk(20, "B", 0, 0, 5, "jazz was born in New Orleans")]
    vectors = np.eye(3, dtype=np.float32)[[2, 0, 1]]  # stored out of order: rows follow chunk_ids
    return ChunkVectors(chunks, vectors, np.array([20, 10, 11]), {"A": "Tomato", "B": "Jazz"})


def test_real_pairs_take_the_relevant_documents_best_chunk():
    chunks = chunk_vectors()
    queries = [Query("q1", "red edible fruit"), Query("q2", "music"), Query("q3", "unjudged")]
    qrels = {"q1": {"A": 1, "B": 0}, "q2": {"B": 2, "missing": 1}}
    vectors = np.array([[0.1, 0.9, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], dtype=np.float32)
    pairs = real_pairs(queries, qrels, chunks, vectors)
    assert pairs == [
        Pair("red edible fruit", "A", 11, "Tomato red fruit", "real"),
        Pair("music", "B", 20, "Jazz jazz was born in New Orleans", "real"),
    ]


def test_training_pairs_come_from_train_qrels_and_skip_held_out_documents():
    chunks = chunk_vectors()
    dataset = Dataset([Document("A", "Tomato", "t"), Document("B", "Jazz", "t")],
                      [Query("q1", "fruit"), Query("q2", "music"), Query("q3", "test query")],
                      {"train": {"q1": {"A": 1}, "q2": {"B": 1}}, "test": {"q3": {"B": 1, "A": 0}}})
    assert held_out_documents(dataset) == {"B"}
    encoded = []

    def vectors(texts):
        encoded.append(texts)
        return np.array([[1.0, 0.0, 0.0]] * len(texts), dtype=np.float32)

    pairs = training_pairs(dataset, chunks, vectors)
    assert encoded == [["fruit", "music"]]
    assert [(p.query, p.doc_id, p.chunk_id) for p in pairs] == [("fruit", "A", 10)]


@pytest.mark.parametrize(("text", "expected"), [
    ("What is a tomato?", True),
    ("Tomatoes are berries.", False),  # no question mark
    ("Why?", False),  # too short
    ("What is it?\nAnd why?", False),  # two lines
    ("Is " + "very " * 30 + "long?", False),
])
def test_is_question(text, expected):
    assert is_question(text) is expected


def test_copies_passage_needs_six_words_in_a_row():
    passage = "The tomato is the edible berry of the plant Solanum lycopersicum."
    assert copies_passage("Is the tomato the edible berry of the plant?", passage)
    assert not copies_passage("Which plant gives the edible berry called tomato?", passage)


def test_filter_keeps_questions_whose_passage_comes_back():
    chunks = chunk_vectors()
    candidates = [(0, "Which fruit is botanically a berry?"),  # kept: chunk 0 ranks first
                  (1, "Red fruit."),  # not a question
                  (2, "Jazz was born in New Orleans, was it not?"),  # copies 6 words
                  (2, "Where did this music start?")]  # its vector points at chunk 0: rank 3
    vectors = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.9, 0.1, 0.0]], dtype=np.float32)
    kept, outcome = filter_synthetic(candidates, chunks, vectors, top_k=2)
    assert kept == [Pair("Which fruit is botanically a berry?", "A", 10, "Tomato tomato is a berry",
                         "synthetic")]
    assert outcome == {"kept": 1, "not_a_question": 1, "copies_passage": 1,
                       "passage_not_in_top_2": 1}


def test_split_is_by_document_and_seeded():
    pairs = [Pair(f"q{i}", f"d{i % 10}", i, "p", "real") for i in range(40)]
    train, validation = split_by_document(pairs, 0.2, seed=1)
    assert len(train) + len(validation) == 40
    assert len({p.doc_id for p in validation}) == 2
    assert not {p.doc_id for p in train} & {p.doc_id for p in validation}
    assert split_by_document(pairs, 0.2, seed=1) == (train, validation)
    assert pair_counts(validation) == {"pairs": 8, "documents": 2, "real_pairs": 8}


def test_pairs_round_trip_and_a_bad_row_is_named(tmp_path):
    pairs = [Pair("q", "d", 3, "passage", "synthetic")]
    write_pairs(tmp_path / "p.jsonl", pairs)
    assert read_pairs(tmp_path / "p.jsonl") == pairs
    (tmp_path / "bad.jsonl").write_text('{"query": "q", "doc_id": "d"}\n')
    with pytest.raises(InputError, match="bad.jsonl:1"):
        read_pairs(tmp_path / "bad.jsonl")
