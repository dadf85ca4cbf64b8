import pytest

from hybridrag.index.database import fts_tokenizer_for
from hybridrag.language import detect_language, main_language, with_languages
from hybridrag.records import Document
from hybridrag.search.fts_query import ENGLISH_STOPWORDS, stopwords_for


@pytest.mark.parametrize("text,code", [
    ("The committee approved the budget after a long debate about schools.", "en"),
    ("Le comité a approuvé le budget après un long débat sur les écoles.", "fr"),
    ("El comité aprobó el presupuesto después de un largo debate sobre las escuelas.", "es"),
    ("Der Ausschuss hat den Haushalt nach einer langen Debatte über Schulen gebilligt.", "de"),
    ("Il comitato ha approvato il bilancio dopo un lungo dibattito sulle scuole.", "it"),
])
def test_known_texts_are_detected(text, code):
    assert detect_language(text) == code


def test_given_and_known_languages_win_over_detection():
    documents = [Document("a", "", "Le chat dort sur le canapé du salon.", language="de"),
                 Document("b", "", "Le chat dort sur le canapé du salon.")]
    assert [d.language for d in with_languages(documents)] == ["de", "fr"]
    assert [d.language for d in with_languages(documents, known="en")] == ["de", "en"]


def test_main_language_is_the_most_common_and_ties_go_alphabetically():
    docs = [Document(str(i), "", "x", language=code) for i, code in enumerate("fr fr en en de".split())]
    assert main_language(docs) == "en"
    assert main_language(docs[:3]) == "fr"
    assert main_language([Document("a", "", "x")]) is None


def test_bm25_settings_follow_the_main_language():
    assert fts_tokenizer_for("auto", "en") == "porter unicode61 remove_diacritics 2"
    assert fts_tokenizer_for("auto", "fr") == "unicode61 remove_diacritics 2"
    assert fts_tokenizer_for("trigram", "fr") == "trigram"
    assert stopwords_for("auto", "en") == ENGLISH_STOPWORDS == stopwords_for("auto", None)
    assert stopwords_for("auto", "fr") == frozenset() == stopwords_for("none", "en")
    assert stopwords_for("english", "fr") == ENGLISH_STOPWORDS
