"""Natural questions for the reranker, by hand on the tiny SQuAD-format file: only answerable
questions, each with its own paragraph, negatives from the other paragraphs of its article; the
validation set searches the articles' paragraphs as a corpus of its own."""

from hybridrag.sft.reading import read_squad
from hybridrag.sft.reading_pairs import passage, reading_pairs, reading_queries, reading_validation

from ..conftest import MODEL, PARAMS
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


def test_reading_validation_searches_the_articles_paragraphs_as_a_corpus(tmp_path):
    articles, _ = read_squad(squad_file(tmp_path, paragraphs=3, questions=2), keep)
    params = PARAMS.updated(embed=PARAMS.embed.updated(model=MODEL, device="cpu"))
    with reading_validation(articles, 0, 1, params) as none:
        assert none == []
    with reading_validation(articles, 5, 1, params) as sets:
        [validation] = sets
        assert validation.name == "reading"
        assert validation.pairs == reading_pairs(articles, 5, 1)
        folder = validation.searcher.index_dir
        for article in articles:
            for paragraph in article.paragraphs:  # each paragraph is a document of its own
                [hit] = validation.searcher.search(paragraph.text, k=1, mode="bm25")
                assert hit.doc_id == f"{article.title}#{paragraph.index}"
    assert not folder.exists()  # the temporary index is gone with the context
