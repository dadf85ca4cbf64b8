"""Solved examples: the nearest training questions by meaning (hand-made vectors) and by words
(FTS5 BM25), best first, never from the asking question's own document."""

import numpy as np

from hybridrag.numeric.examples import ExampleIndex
from hybridrag.numeric.rows import SolvedExample

EXAMPLES = [SolvedExample("In what year was the composer Bach born?", 1685.0, "bach"),
            SolvedExample("In what year did the composer Bach die?", 1750.0, "bach"),
            SolvedExample("In what year was the film Casablanca released?", 1942.0, "casablanca"),
            SolvedExample("In what year was the painter Vermeer born?", 1632.0, "vermeer")]
AXES = ("born", "die", "released")


def encode(texts):
    """Unit vectors over three words: born, die, released (a hand-checkable 'meaning')."""
    vectors = np.array([[text.count(word) for word in AXES] for text in texts], dtype=float)
    vectors += 1e-3
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_semantic_neighbours_are_the_closest_vectors_best_first():
    index = ExampleIndex(EXAMPLES, encode)
    [births, deaths] = index.nearest(["In what year was Handel born?", "When did Handel die?"],
                                     [None, None], 2, "semantic")
    assert [e.doc_id for e in births] == ["bach", "vermeer"]  # the two "born" questions
    assert deaths == [EXAMPLES[1], EXAMPLES[0]]  # "die" first, then the ties in index order
    index.close()


def test_keyword_neighbours_rank_by_bm25_and_skip_the_own_document():
    index = ExampleIndex(EXAMPLES, encode)
    [found] = index.nearest(["When did Bach the composer die?"], [None], 3, "keyword")
    assert found[:2] == [EXAMPLES[1], EXAMPLES[0]]  # bach + composer + die beats bach + composer
    [own] = index.nearest(["When did Bach the composer die?"], ["bach"], 3, "keyword")
    assert all(e.doc_id != "bach" for e in own)
    assert index.nearest(["Casablanca released"], ["casablanca"], 3, "semantic")[0][0].doc_id \
        != "casablanca"
    assert index.nearest(["zebra quagga"], [None], 3, "keyword") == [[]]  # no shared word
    index.close()


def test_an_empty_index_finds_nothing():
    index = ExampleIndex([], encode)
    assert index.nearest(["In what year was Bach born?"], [None], 2, "semantic") == [[]]
    assert index.nearest(["In what year was Bach born?"], [None], 2, "keyword") == [[]]
    index.close()
