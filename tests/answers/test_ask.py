"""Grounded answers as `hybridrag ask` gives them: retrieved sources cut to the token budget and
numbered in the retriever's order, batched generation equal to one at a time, citations read."""

import pytest

from hybridrag.answers.ask import answer
from hybridrag.chat.generation import Sampling, TransformersGenerator

from ..conftest import PARAMS, make_documents, open_searcher

SETTINGS = PARAMS.answers.updated(sources=2, max_new_tokens=12, batch_size=4, rerank=False,
                                  device="cpu")


def test_answer_retrieves_numbered_trimmed_sources_and_generates(tiny_base, smol_tokenizer,
                                                                  small_index):
    generator = TransformersGenerator.load(tiny_base, tiny_base, device="cpu")
    questions = ["edible berry", "jazz in New Orleans"]
    titles = {d.doc_id: d.title for d in make_documents()}
    budget = 8  # tokens: shorter than the index's 12-word chunks, so passages are cut
    settings = SETTINGS.updated(source_tokens=budget)
    cut = 0
    with open_searcher(small_index) as searcher:
        replies = answer(generator, searcher, questions, settings)
        retrieved = [searcher.search(q, k=2) for q in questions]
        passages = [searcher.chunks([r.chunk_id for r in results]) for results in retrieved]
        single = answer(generator, searcher, questions[1:], settings)
    for reply, results, chunks in zip(replies, retrieved, passages, strict=True):
        assert [(s.number, s.doc_id, s.chunk_id, s.title) for s in reply.sources] == [
            (n, r.doc_id, r.chunk_id, titles[r.doc_id]) for n, r in enumerate(results, start=1)]
        for source in reply.sources:  # the passage's start: within the budget, whole words
            passage = chunks[source.chunk_id].text
            words, shown = passage.split(), source.text.split()
            assert words[:len(shown)] == shown
            assert len(smol_tokenizer(source.text, add_special_tokens=False)["input_ids"]) <= budget
            if len(shown) < len(words):  # one more word would not fit
                cut += 1
                longer = " ".join(words[:len(shown) + 1])
                assert len(smol_tokenizer(longer, add_special_tokens=False)["input_ids"]) > budget
        assert set(reply.cited) <= {1, 2}
    assert cut > 0
    assert single[0].text == replies[1].text  # batched (left padding) = one at a time


def test_sampled_replies_are_seeded_and_greedy_ones_are_not_sampled(tiny_base):
    generator = TransformersGenerator.load(tiny_base, tiny_base, device="cpu")
    prompt = [[{"role": "user", "content": "Say something."}]]
    sampling = Sampling(temperature=1.0, top_p=1.0, seed=3)
    first = generator.replies(prompt, 8, 2, sampling, samples=3)
    again = generator.replies(prompt, 8, 2, sampling, samples=3)
    assert len(first) == 3 and first == again
    assert len({r.text for r in first}) > 1  # a random tiny model: samples differ
    assert generator.replies(prompt, 8, 2) == generator.replies(prompt, 8, 2)


@pytest.mark.slow
def test_the_real_smollm2_answers_from_the_sources(smol_base, small_index):
    generator = TransformersGenerator.load(smol_base, smol_base, device="cpu")
    with open_searcher(small_index) as searcher:
        replies = answer(generator, searcher, ["the structure of DNA"],
                         SETTINGS.updated(max_new_tokens=48))
    assert len(replies[0].text.split()) >= 3
    assert "dna" in replies[0].text.lower()
