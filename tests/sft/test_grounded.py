"""Grounded conversations by hand and on a small real index: the document split, no-answer
conversations, shuffled positions, follow-ups, and references taken from the sources' text."""

import random
from collections import Counter

import pytest

from hybridrag.answers.prompt import NO_ANSWER, Source, token_trimmer
from hybridrag.records import Dataset, Query
from hybridrag.sft.grounded import (
    Question,
    QuestionWriter,
    grounded_examples,
    item_from_row,
    make_example,
    split_questions,
)

from ..conftest import PARAMS, make_documents, open_searcher

DOCS = make_documents()
TITLES = {d.doc_id: d.title for d in DOCS}
GROUNDED = PARAMS.sft.chatml.grounded


def ranked(*doc_ids):
    return [Source(i, d, i, TITLES[d], f"{TITLES[d]} is topic {d}. It has a second sentence here.")
            for i, d in enumerate(doc_ids, start=1)]


def dataset():
    """A query per document ("<title> by <author>"), documents d00-d15 train, d16-d23 test."""
    queries = [Query(f"q{d.doc_id}", f"{d.title} by {d.author}") for d in DOCS]
    qrels = {"train": {f"q{d.doc_id}": {d.doc_id: 1} for d in DOCS[:16]},
             "test": {f"q{d.doc_id}": {d.doc_id: 1} for d in DOCS[16:]}}
    return Dataset(DOCS, queries, qrels)


def test_split_is_by_document_and_keeps_test_documents_out_of_training():
    synthetic = [("What is radium?", "d00"), ("What about d20?", "d20")]
    splits = split_questions(dataset(), synthetic, GROUNDED.updated(
        max_train=None, max_validation=None, max_test=None), validation_fraction=0.25, seed=1)
    train = {d for q in splits.train for d in q.relevant}
    validation = {d for q in splits.validation for d in q.relevant}
    test = {d for q in splits.test for d in q.relevant}
    assert test == {d.doc_id for d in DOCS[16:]}
    assert not train & test and not validation & test and not train & validation
    assert len(validation) == 4 and len(train) == 12  # a quarter of the 16 training documents
    # the synthetic question on a test document is never trained on; the other one is, if its
    # document stayed in training
    assert "What about d20?" not in {q.text for q in splits.train + splits.validation}
    assert ("What is radium?" in {q.text for q in splits.train}) == ("d00" in train)


def test_a_conversation_by_hand():
    question = Question("q", "What is it?", frozenset({"d02"}))
    rng = random.Random(0)
    answered = make_example(question, "What is it?", ranked("d01", "d02", "d03", "d04"), 3, TITLES,
                            rng, drop_relevant=False, shuffle=False, follow_up=True)
    assert answered.kind == "answer" and answered.item.relevant == (2,)
    assert [m["role"] for m in answered.messages] == ["system", "user", "assistant", "user",
                                                      "assistant"]
    assert answered.messages[2]["content"] == f"[2] {TITLES['d02']}: {TITLES['d02']} is topic d02."
    assert answered.messages[4]["content"] == "[2] It has a second sentence here."
    assert "[3] " in answered.messages[0]["content"] and "[4] " not in answered.messages[0]["content"]
    dropped = make_example(question, "What is it?", ranked("d01", "d02", "d03", "d04"), 3, TITLES,
                           rng, drop_relevant=True, shuffle=False, follow_up=True)
    assert dropped.kind == "no_answer" and dropped.item.relevant == ()
    assert [s.doc_id for s in dropped.item.sources] == ["d01", "d03", "d04"]  # the next one in
    assert dropped.messages[-1]["content"] == NO_ANSWER and len(dropped.messages) == 3
    missed = make_example(question, "What is it?", ranked("d05", "d06", "d07"), 3, TITLES, rng,
                          drop_relevant=False, shuffle=False, follow_up=False)
    assert missed.kind == "retrieval_miss" and missed.item.reference == NO_ANSWER


def test_rows_round_trip_to_the_scorers_items():
    example = make_example(Question("q", "What?", frozenset({"d02"})), "What?", ranked("d02", "d03"),
                           2, TITLES, random.Random(0), drop_relevant=False, shuffle=False,
                           follow_up=False)
    assert item_from_row(example.row()) == example.item


def test_questions_from_descriptions_and_as_asked():
    writer = QuestionWriter(DOCS)
    rng = random.Random(0)
    assert writer("Who wrote it?", rng) == "Who wrote it?"
    assert writer.phrase("Essay by Marie Curie") == "essay by Marie Curie"  # "essay" is common
    assert writer.phrase("Marie Curie essay") == "Marie Curie essay"  # a name stays
    made = {writer("Essay by Marie Curie", random.Random(seed)) for seed in range(30)}
    assert len(made) > 3 and all("ssay by Marie Curie" in q for q in made)


@pytest.mark.slow
def test_grounded_examples_on_a_real_index(small_index, smol_tokenizer):
    settings = GROUNDED.updated(max_train=None, max_validation=None, max_test=None,
                                no_answer_share=0.3, follow_up_share=0.5, shuffle_sources=1.0)
    splits = split_questions(dataset(), [], settings, validation_fraction=0.25, seed=1)
    with open_searcher(small_index) as searcher:
        examples = grounded_examples(splits, searcher, token_trimmer(smol_tokenizer, 24),
                                     QuestionWriter(DOCS), settings, k=3, rerank=False, seed=5,
                                     progress=False)
    train = examples["train"]
    kinds = Counter(e.kind for e in train)
    assert len(train) == len(splits.train) and kinds["no_answer"] >= 1 and kinds["answer"] >= 4
    assert len({e.item.relevant[0] for e in train if e.item.relevant}) > 1  # positions vary
    assert any(len(e.messages) == 5 for e in train)  # some follow-ups
    for example in (e for split in examples.values() for e in split):
        assert len(example.item.sources) == 3
        if example.item.answerable:  # the reference is the relevant source's own text, cited
            source = example.item.sources[example.item.relevant[0] - 1]
            opening = f"[{source.number}] {source.title}: "
            assert example.item.reference.startswith(opening)
            assert source.text.startswith(example.item.reference.removeprefix(opening))
    for split in ("validation", "test"):  # the retriever's order, and a variant without the answer
        answered = [e for e in examples[split] if e.kind == "answer"]
        variants = [e for e in examples[split] if e.variant_of]
        assert [v.variant_of for v in variants] == [e.query_id for e in answered]
        assert all(v.kind == "no_answer" and v.item.reference == NO_ANSWER for v in variants)
