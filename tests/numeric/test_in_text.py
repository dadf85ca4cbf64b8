"""Cloze questions from article text: only a sentence whose one number is a plain year is asked,
the year is blanked (the question never holds it), and the choice is seeded per document."""

import pytest

from hybridrag.numeric.in_text import cloze, cloze_questions_for, in_text_questions
from hybridrag.records import Dataset, Document, Query


@pytest.mark.parametrize("sentence, expected", [
    ("The city was founded in 1635 by Puritan settlers from England.",
     ("The city was founded in ____ by Puritan settlers from England.", 1635.0)),
    ("In 1868, he was elected president of the society for two terms.",
     ("In ____, he was elected president of the society for two terms.", 1868.0)),
    ("The band was popular in the 1990s across most of Europe.", None),  # a decade
    ("The war lasted from 1914 to 1918 and changed the map.", None),  # two numbers
    ("In 1500 BC the settlement was a small village near the river.", None),  # before the era
    ("The population was 1,500 in the census of the small town.", None),  # a count
    ("It was built in 1635.", None),  # too short to place the year
    ("The ship carried 640 passengers on its first crossing to America.", None),  # not a year
    ("Construction began in 2087 according to the plans of the city.", None),  # the future
])
def test_only_a_sentence_stating_one_plain_year_makes_a_cloze(sentence, expected):
    assert cloze(sentence) == expected


TEXT = ("Boston is the capital of Massachusetts. The city was founded in 1630 by Puritan "
        "settlers from England. It hosted the Boston Tea Party in 1773 during the revolution. "
        "Harvard University lies across the river.")


def test_one_seeded_question_per_document_without_its_year():
    document = Document("d1", "Boston (city)", TEXT)
    [question] = cloze_questions_for(document, seed=1)
    assert question.question_id == "d1#in_text" and question.doc_id == "d1"
    assert question.target in (1630.0, 1773.0)
    assert str(int(question.target)) not in question.question
    assert question.question.startswith('Which year belongs in the blank? "')
    assert question.question.endswith('" (Boston)')  # the title without its disambiguation
    assert question.evidence in TEXT and str(int(question.target)) in question.evidence
    choices = {cloze_questions_for(document, seed).pop().target for seed in range(20)}
    assert choices == {1630.0, 1773.0}  # both sentences are candidates
    assert cloze_questions_for(document, seed=1) == [question]  # and the choice is stable
    assert cloze_questions_for(Document("d2", "Harvard", "Harvard lies across the river."), 1) == []


def test_a_split_asks_the_documents_judged_relevant_in_it():
    documents = [Document("a", "A", TEXT), Document("b", "B", TEXT), Document("c", "C", TEXT)]
    qrels = {"train": {"q1": {"a": 1, "c": 0}}, "test": {"q2": {"b": 1}, "q3": {"missing": 1}}}
    dataset = Dataset(documents, [Query("q1", "x"), Query("q2", "y"), Query("q3", "z")], qrels)
    assert [q.doc_id for q in in_text_questions(dataset, "train", 1)] == ["a"]  # c is graded 0
    assert [q.doc_id for q in in_text_questions(dataset, "test", 1)] == ["b"]
    assert list(in_text_questions(dataset, "validation", 1)) == []
