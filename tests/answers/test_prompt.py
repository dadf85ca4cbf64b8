"""The grounded prompt by hand: numbered sources in the system message, passages cut to a token
budget on a word boundary, sentences, citations, and reference replies from the sources' text."""

import pytest

from hybridrag.answers.prompt import (
    INSTRUCTIONS,
    NO_ANSWER,
    Source,
    answer_text,
    build_prompt,
    citations,
    cited_sentence,
    reference_reply,
    sentences,
    token_trimmer,
)


def source(number, title="Tomato", text="The tomato is an edible berry. It is red."):
    return Source(number, f"d{number}", number * 10, title, text)


def test_prompt_puts_instructions_and_numbered_sources_in_the_system_message():
    prompt = build_prompt("What is it?", [source(1), source(2, "Jazz", "Jazz is music.")])
    assert prompt == [
        {"role": "system", "content": f"{INSTRUCTIONS}\n\nSources:\n"
                                      "[1] Tomato: The tomato is an edible berry. It is red.\n"
                                      "[2] Jazz: Jazz is music."},
        {"role": "user", "content": "What is it?"}]


def test_citations_are_valid_numbers_in_order_of_first_use():
    assert citations("As [2] says, and [1] too [2]; see [9] and [0].", 3) == [2, 1]
    assert citations("No sources here.", 3) == []


def test_answer_text_is_the_reply_without_its_citation_marks():
    assert answer_text("[1] Paris [12]").split() == ["Paris"]
    assert answer_text("Leonardo da Vinci [2].") == "Leonardo da Vinci  ."


@pytest.mark.parametrize("text,expected", [
    ("The tomato is a berry. It is red! Is it? Yes.", ["The tomato is a berry.", "It is red!",
                                                       "Is it?", "Yes."]),
    ("J. S. Bach (b. 1685) wrote it in c. 1720. St. Peter agreed.",
     ["J. S. Bach (b. 1685) wrote it in c. 1720.", "St. Peter agreed."]),
    ("Washington, D.C. is a city. It was cut off here", ["Washington, D.C. is a city.",
                                                         "It was cut off here"]),
    ("version 3.5 of it. Then more.", ["version 3.5 of it.", "Then more."]),
])
def test_sentences(text, expected):
    assert sentences(text) == expected


def test_trimmer_keeps_the_budget_and_ends_on_a_word(smol_tokenizer):
    text = "The tomato is the edible berry of the plant Solanum lycopersicum, commonly known."
    trim = token_trimmer(smol_tokenizer, 6)
    cut = trim(text)
    assert text.startswith(cut) and text[len(cut)] == " "
    assert len(smol_tokenizer(cut, add_special_tokens=False)["input_ids"]) <= 6
    assert token_trimmer(smol_tokenizer, 100)(text) == text


def test_reference_reply_cites_the_relevant_source_and_names_its_title():
    sources = [source(1, "Jazz", "Jazz is music. From New Orleans."), source(2),
               source(3, "Berry", "A fleshy fruit. Many kinds.")]
    assert reference_reply(sources, (2,)) == "[2] Tomato: The tomato is an edible berry."
    assert reference_reply(sources, (3, 1)) == "[3] Berry: A fleshy fruit."  # the first relevant
    assert reference_reply(sources, ()) == NO_ANSWER
    assert cited_sentence("Jazz is loud.", sources[0]) == "[1] Jazz: Jazz is loud."
