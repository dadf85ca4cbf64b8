"""Grounded answers as `hybridrag ask` gives them: retrieved sources cut to the token budget and
numbered in the retriever's order, batched generation equal to one at a time, citations read."""

import pytest

from hybridrag.answers.ask import answer, as_sources, chat_model_folder
from hybridrag.answers.generation import ChatGenerator, Sampling
from hybridrag.answers.prompt import token_trimmer

from ..conftest import PARAMS, open_searcher

SETTINGS = PARAMS.answers.updated(sources=2, max_new_tokens=12, batch_size=4, rerank=False,
                                  device="cpu")


def test_chat_model_names_map_to_the_pipeline_folders(tmp_path):
    assert str(chat_model_folder("base")) == "models/base"
    assert str(chat_model_folder("lora")) == "models/sft/lora"
    assert str(chat_model_folder("dpo")) == "models/dpo"
    assert chat_model_folder(str(tmp_path / "mine")) == tmp_path / "mine"


def test_answer_retrieves_numbered_trimmed_sources_and_generates(tiny_base, smol_tokenizer,
                                                                  small_index):
    generator = ChatGenerator.load(tiny_base, tiny_base, device="cpu")
    questions = ["edible berry", "jazz in New Orleans"]
    with open_searcher(small_index) as searcher:
        replies = answer(generator, searcher, questions, SETTINGS)
        trim = token_trimmer(smol_tokenizer, SETTINGS.source_tokens)
        expected = [as_sources(searcher, searcher.search(q, k=2), trim) for q in questions]
        single = answer(generator, searcher, questions[1:], SETTINGS)
    assert [r.sources for r in replies] == expected
    assert all([s.number for s in r.sources] == [1, 2] for r in replies)
    assert all(set(r.cited) <= {1, 2} for r in replies)
    assert single[0].text == replies[1].text  # batched (left padding) = one at a time


def test_sampled_replies_are_seeded_and_greedy_ones_are_not_sampled(tiny_base):
    generator = ChatGenerator.load(tiny_base, tiny_base, device="cpu")
    prompt = [[{"role": "user", "content": "Say something."}]]
    sampling = Sampling(temperature=1.0, top_p=1.0, seed=3)
    first = generator.replies(prompt, 8, 2, sampling, samples=3)
    again = generator.replies(prompt, 8, 2, sampling, samples=3)
    assert len(first) == 3 and first == again
    assert len({r.text for r in first}) > 1  # a random tiny model: samples differ
    assert generator.replies(prompt, 8, 2) == generator.replies(prompt, 8, 2)


@pytest.mark.slow
def test_the_real_smollm2_answers_from_the_sources(smol_base, small_index):
    generator = ChatGenerator.load(smol_base, smol_base, device="cpu")
    with open_searcher(small_index) as searcher:
        replies = answer(generator, searcher, ["the structure of DNA"],
                         SETTINGS.updated(max_new_tokens=48))
    assert len(replies[0].text.split()) >= 3
    assert "dna" in replies[0].text.lower()
