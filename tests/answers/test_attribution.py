"""Citations that follow the evidence, by hand: a reply citing a source without its answer is
moved to the best-ranked source that holds it, word for word after SQuAD normalisation; replies
that abstain, already cite the evidence, or have no evidence keep their citation; `ask` and its
stream apply it when answers.attribute is on."""

from hybridrag.answers.ask import answer, answer_stream
from hybridrag.answers.attribution import attribute, holders
from hybridrag.answers.prompt import NO_ANSWER, Source
from hybridrag.chat.generation import Generated, Stream
from hybridrag.metrics.squad import normalize_answer

from ..conftest import PARAMS, open_searcher

SOURCES = [Source(1, "a", 0, "Tower", "The Eiffel Tower is in Paris, France."),
           Source(2, "b", 1, "Bridge", "Tower Bridge crosses the Thames in London."),
           Source(3, "c", 2, "River", "The Thames flows through London and Oxford.")]


def test_holders_match_whole_words_after_normalisation():
    assert holders("london", SOURCES) == [2, 3]
    assert holders("The Thames", SOURCES) == [2, 3]  # articles and case do not count
    assert holders("Paris, France", SOURCES) == [1]  # punctuation does not count
    assert holders("Lon", SOURCES) == []  # part of a word is not the word
    assert holders("Tower", SOURCES) == [1, 2]  # titles count: the prompt shows them
    assert holders("[2]", SOURCES) == [] and holders("", SOURCES) == []


def test_a_citation_without_the_answer_moves_to_the_best_ranked_holder():
    assert attribute("[1] London", SOURCES) == "[2] London"
    assert attribute("London", SOURCES) == "[2] London"  # a missing citation is added
    assert attribute("Oxford [2].", SOURCES) == "[3] Oxford."


def test_replies_that_abstain_cite_the_evidence_or_have_none_are_kept():
    assert attribute("[3] London", SOURCES) == "[3] London"  # 3 holds it too: the model's choice
    assert attribute("[1] Berlin", SOURCES) == "[1] Berlin"  # no source holds it
    assert attribute(NO_ANSWER, SOURCES) == NO_ANSWER
    assert attribute("[2] The sources do not contain the answer.", SOURCES) == \
        "[2] The sources do not contain the answer."


class ScriptedGenerator:
    """Gives one fixed reply: the product path around the chat model is what is checked."""

    runtime, precision = "scripted", "fp32"

    def __init__(self, tokenizer, reply):
        self.tokenizer, self.reply = tokenizer, reply

    def replies(self, prompts, max_new_tokens, batch_size, sampling=None, samples=1):
        return [Generated(self.reply, True)] * (len(prompts) * samples)

    def stream(self, prompt, max_new_tokens):
        def pieces():
            yield self.reply
            return Generated(self.reply, True)
        return Stream(pieces())


def test_the_product_path_cites_the_evidence_when_answers_attribute_is_on(smol_tokenizer,
                                                                          small_index):
    settings = PARAMS.answers.updated(sources=2, rerank=False, device="cpu")
    question = "edible berry"
    with open_searcher(small_index) as searcher:
        sources = answer(ScriptedGenerator(smol_tokenizer, NO_ANSWER), searcher, [question],
                         settings)[0].sources
        first = set(normalize_answer(sources[0].title + " " + sources[0].text).split())
        word = next(w for w in normalize_answer(sources[1].text).split() if w not in first)
        generator = ScriptedGenerator(smol_tokenizer, f"[1] {word}")
        moved = answer(generator, searcher, [question], settings)[0]
        kept = answer(generator, searcher, [question], settings.updated(attribute=False))[0]
        streamed = answer_stream(generator, searcher, question, settings)
        assert "".join(streamed.stream) == f"[1] {word}"  # streamed as the model wrote it
    assert (moved.cited, moved.text) == ([2], f"[2] {word}")
    assert (kept.cited, kept.text) == ([1], f"[1] {word}")
    assert streamed.answer().cited == [2]  # the whole answer, at the end, cites the evidence
