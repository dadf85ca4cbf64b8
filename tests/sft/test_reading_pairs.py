"""Natural questions for the reranker, by hand on the tiny SQuAD-format file: only answerable
questions, each with its own paragraph, negatives from the other paragraphs of its article."""

from hybridrag.sft.reading import read_squad
from hybridrag.sft.reading_pairs import passage, reading_pairs, reading_queries

from .test_reading import keep, squad_file


def test_pairs_are_answerable_questions_with_their_paragraph(tmp_path):
    articles, _ = read_squad(squad_file(tmp_path, paragraphs=3, questions=4), keep)
    pairs = reading_pairs(articles, 1000, seed=1)
    assert len(pairs) == 6 * 3 * 2  # two answerable questions per paragraph
    for pair in pairs:
        title, paragraph = pair.doc_id.split("#")
        assert pair.query.startswith(f"What is {title} {paragraph} colour")
        assert pair.passage == f"{title} The {title} {paragraph} colour is " \
                               f"{title.lower()}{paragraph}colour. Nothing else is said."
    assert len(reading_pairs(articles, 5, seed=1)) == 5
    assert reading_pairs(articles, 5, seed=1) == reading_pairs(articles, 5, seed=1)


def test_negatives_are_other_paragraphs_of_the_same_article(tmp_path):
    articles, _ = read_squad(squad_file(tmp_path, paragraphs=4, questions=2), keep)
    queries = reading_queries(articles, 1000, negatives=2, seed=3)
    assert len(queries) == 6 * 4
    passages = {passage(p): (a.title, p.index) for a in articles for p in a.paragraphs}
    for query in queries:
        title, index = passages[query.positive]
        assert query.query.startswith(f"What is {title} {index} colour")
        assert len(query.negatives) == 2
        assert all(passages[n][0] == title and passages[n][1] != index for n in query.negatives)
