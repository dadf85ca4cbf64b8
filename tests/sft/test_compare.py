"""The comparison on held-out grounded questions: items and their variants kept together, paired
differences against base with a bootstrap interval by hand, the best model, a tiny real run."""

import random
from dataclasses import replace

import pytest

from hybridrag.answers.prompt import NO_ANSWER, Source
from hybridrag.answers.scoring import BASELINE, GroundedItem, score_reply
from hybridrag.chat.generation import Generated
from hybridrag.sft.compare import (
    PRODUCT,
    ModelAnswers,
    ProductPolicy,
    against_best,
    best_model,
    best_sources,
    compare_models,
    compared_models,
    evidence_citations,
    held_out,
    paired_difference,
    position_following,
    renumbered,
)
from hybridrag.sft.grounded import Question, make_example

from ..conftest import PARAMS


def rows():
    """Three questions: two answerable (each followed by its no-answer variant), one missed."""
    titles = {f"d{i}": f"Title {i}" for i in range(6)}
    ranked = [Source(i + 1, f"d{i}", i, f"Title {i}", f"Title {i} is thing {i}. More text.")
              for i in range(4)]
    examples = []
    for query_id, relevant in (("q1", "d1"), ("q2", "d0"), ("q3", "d5")):
        question = Question(query_id, f"What is {relevant}?", frozenset({relevant}))
        original = make_example(question, question.text, ranked, 3, titles, random.Random(0),
                                drop_relevant=False, shuffle=False, follow_up=False)
        examples.append(original)
        if original.kind == "answer":
            examples.append(make_example(question, question.text, ranked, 3, titles,
                                         random.Random(0), drop_relevant=True, shuffle=False,
                                         follow_up=False, variant_of=query_id))
    return [e.row() for e in examples]


def test_items_keep_each_question_with_its_variant():
    data = held_out(rows())
    assert data.question_of == ["q1", "q1", "q2", "q2", "q3"]
    assert data.first(2) == [0, 1, 2, 3] and data.first(3) == [0, 1, 2, 3, 4]
    assert [i.answerable for i in data.items] == [True, False, True, False, False]


def answers_for(data, texts):
    indices = list(range(len(texts)))
    return ModelAnswers(indices, texts, [score_reply(data.items[i], t, True)
                                         for i, t in enumerate(texts)])


def test_paired_difference_by_hand():
    data = held_out(rows())
    base = answers_for(data, ["Title 1 [1].", "Title 1 [1].", "x [3].", "x [3].", "x [2]."])
    tuned = answers_for(data, ["Title 1 [2].", NO_ANSWER, "Title 0 [1].", NO_ANSWER, NO_ANSWER])
    # cites_relevant on the 2 answerable items: base 0, 0 (q1's relevant is [2]); tuned 1, 1
    found = paired_difference(tuned, base, data.items, "cites_relevant", 200, seed=0)
    assert found == {"difference": 1.0, "items": 2, "ci95": [1.0, 1.0]}
    # abstention on the 3 unanswerable items: base 0/3, tuned 3/3
    assert paired_difference(tuned, base, data.items, "abstains_unanswerable", 200, 0)["difference"] == 1.0
    mixed = answers_for(data, ["Title 1 [2].", "x", "x [3].", "x", "x"])
    result = paired_difference(mixed, base, data.items, "cites_relevant", 1000, seed=0)
    assert result["difference"] == 0.5 and result["ci95"][0] <= 0.5 <= result["ci95"][1]
    assert best_model({"base": base, "tuned": tuned, BASELINE: base}, data, 3) == (
        "tuned", {"base": (0.0, 1.0), "tuned": (1.0, 1.0)})


def test_the_other_methods_against_the_best_by_hand():
    data = held_out(rows())  # answerable: items 0 (relevant [2]) and 2 (relevant [1])
    base = answers_for(data, ["x [3].", "x [3].", "x [3].", "x [3].", "x [2]."])
    best = answers_for(data, ["Title 1 [2].", NO_ANSWER, "Title 0 [1].", NO_ANSWER, NO_ANSWER])
    # the other method answered the first question only (items 0 and 1), citing the wrong source
    other = ModelAnswers([0, 1], ["Title 1 [1].", NO_ANSWER],
                         [score_reply(data.items[i], t, True)
                          for i, t in ((0, "Title 1 [1]."), (1, NO_ANSWER))])
    answered = {"base": base, "best": best, "other": other, BASELINE: base}
    results = {name: {} for name in answered}
    against_best(results, answered, data, "best", PARAMS.sft.compare.updated(bootstrap=200))
    assert list(results) == ["base", "best", "other", BASELINE]
    assert [name for name, values in results.items() if "vs_best" in values] == ["other"]
    found = results["other"]["vs_best"]
    # on item 0, the one answerable item both answered: other cites [1] (0), best [2] (1)
    assert found["cites_relevant"] == {"difference": -1.0, "items": 1, "ci95": [-1.0, -1.0]}
    # on item 1, the one unanswerable item both answered: both abstain
    assert found["abstains_unanswerable"] == {"difference": 0.0, "items": 1, "ci95": [0.0, 0.0]}


def test_position_following_by_hand():
    data = held_out(rows())  # answerable: item 0 (relevant [2]) and item 2 (relevant [1])
    base = answers_for(data, ["Title 1 [1].", "x", "x [3].", "x", "x"])
    tuned = answers_for(data, ["Title 1 [2].", "x", "Title 0 [1].", "x", "x"])
    assert position_following(data.items, base) == {
        "cites_first": 0.5, "cites_relevant_not_first": 0.0, "relevant_not_first": 1}
    assert position_following(data.items, tuned) == {
        "cites_first": 0.5, "cites_relevant_not_first": 1.0, "relevant_not_first": 1}


def test_evidence_citations_by_hand():
    data = held_out(rows())  # sources [1] Title 0, [2] Title 1, [3] Title 2 (each thing i)
    base = answers_for(data, ["Title 1 [1].", "x", "x [3].", "x", "x"])
    # item 0: "Title 1" is only in [2], the relevant one: the citation moves there; item 2: "x"
    # is in no source, so [3] stays (not relevant)
    assert evidence_citations(data.items, base) == {"cites_relevant_evidence": 0.5}
    tuned = answers_for(data, ["Title 1 [2].", "x", "Title 0 [1].", "x", "x"])
    assert evidence_citations(data.items, tuned) == {"cites_relevant_evidence": 1.0}


def reading_rows():
    """Two reading questions over the same three paragraphs: one answerable (gold [2]), one not."""
    from hybridrag.sft.reading import Article, Paragraph, ReadingQuestion, reading_example

    from .test_reading import params

    paragraphs = [Paragraph("Art", i, text) for i, text in enumerate(
        ["The Louvre is in Paris.", "Leonardo da Vinci painted the Mona Lisa.", "It is old."])]
    pool = [Article("Art", paragraphs, [])]
    found = []
    for qid, text, answers in (("a", "Who painted it?", ("Leonardo da Vinci",)),
                               ("b", "Who stole it?", ())):
        question = ReadingQuestion(qid, text, answers, paragraphs[1])
        for seed in range(50):  # a seed that puts the gold paragraph second
            example = reading_example(question, pool, 3, params(), random.Random(seed),
                                      drop_gold=False)
            if [s.doc_id for s in example.item.sources][1] == "Art#1":
                break
        found.append(example.row())
    return found


def overlap(question, candidates):
    """Long words shared with the question, as a cross-encoder."""
    asked = {w for w in question.lower().strip("?").split() if len(w) > 3}
    return [len(asked & set(c.lower().strip(".").split())) for c in candidates]


def test_the_product_row_shows_the_replies_as_ask_does():
    data = held_out(reading_rows())  # "Who painted it?" (gold [2]) and "Who stole it?" (none)

    def asks_about_painting(question, passages):  # the gate's scorer by hand
        return [float("painted" in question)] * len(passages)

    settings = PARAMS.answers.updated(attribute=True, on_model_abstention="extractive", sources=3)
    shown = ProductPolicy(0.5, asks_about_painting, settings, overlap).answers(
        data.items, answers_for(data, [NO_ANSWER, "[1] Paris"]))
    # the first abstained past the gate: the best sentence instead; the second is gated
    assert shown.replies == ["[2] Leonardo da Vinci painted the Mona Lisa.", NO_ANSWER]
    assert [s.abstained for s in shown.scores] == [False, True]
    kept = ProductPolicy(None, asks_about_painting, settings.updated(on_model_abstention="keep"),
                         overlap).answers(data.items, answers_for(data, [NO_ANSWER, "[2] Paris"]))
    # no gate: the abstention is kept; "Paris" is not in [2] (the Mona Lisa): the citation
    # follows it to the Louvre's source
    louvre = next(s.number for s in data.items[1].sources if "Paris" in s.text)
    assert louvre != 2 and kept.replies == [NO_ANSWER, f"[{louvre}] Paris"]


class Replies:
    """Replies given in advance, and the prompts they answered (a generator that reads nothing)."""

    def __init__(self, texts):
        self.texts, self.prompts = texts, []

    def replies(self, prompts, max_new_tokens, batch_size, sampling=None, samples=1):
        self.prompts += prompts
        return [Generated(text, True) for text in self.texts]


def test_best_sources_and_their_numbers_by_hand():
    sources = tuple(Source(n, f"d{n}", 0, f"T{n}", f"text {n}") for n in (1, 2, 3))
    item = GroundedItem("q?", sources, (2,), ("T2",), "[2] x", ("x",))
    read, numbers = best_sources(item, lambda q, texts: [0.1, 0.9, 0.5], 2)
    assert numbers == (2, 3)
    assert [(s.number, s.doc_id) for s in read.sources] == [(1, "d2"), (2, "d3")]
    assert (read.relevant, read.titles, read.answers) == ((1,), ("T2",), ("x",))
    tied, numbers = best_sources(replace(item, relevant=(1,), titles=("T1",)),
                                 lambda q, texts: [0.0, 0.0, 0.0], 1)  # ties: the item's order
    assert numbers == (1,) and (tied.relevant, tied.titles) == ((1,), ("T1",))
    missed, numbers = best_sources(item, lambda q, texts: [0.9, 0.1, 0.5], 1)
    assert numbers == (1,) and (missed.relevant, missed.titles) == ((), ())
    assert renumbered("[1] a, [2] b and [3].", (3, 1)) == "[3] a, [1] b and [0]."


def test_the_product_reads_the_best_given_source_as_ask_does():
    data = held_out(reading_rows())  # "Who painted it?" (gold [2]) and "Who stole it?" (none)
    model = answers_for(data, ["[1] The Louvre", "[3] Paris"])  # its replies over all three
    settings = PARAMS.answers.updated(sources=1, attribute=False, on_model_abstention="keep")
    policy = ProductPolicy(None, overlap, settings, overlap)
    with pytest.raises(ValueError, match="answers.sources"):
        policy.answers(data.items, model)
    generator = Replies(["[1] Leonardo da Vinci", "[2] Paris"])
    shown = policy.answers(data.items, model, generator)
    # each prompt lists one source: the one sharing "painted" with the first question; for the
    # second, which shares no word with any, the first listed
    listed = [p[0]["content"].split("Sources:\n")[1] for p in generator.prompts]
    assert listed == [f"[1] Art: {data.items[0].sources[1].text}",
                      f"[1] Art: {data.items[1].sources[0].text}"]
    # [1] of the one source read is [2] of the three; [2] was not shown: it cites nothing
    assert shown.replies == ["[2] Leonardo da Vinci", "[0] Paris"]
    assert shown.scores[0].cites_relevant and shown.scores[0].f1 == 1.0
    assert shown.scores[1].cited == () and not shown.scores[1].well_formed
    gated = ProductPolicy(0.5, lambda q, passages: [float("painted" in q)] * len(passages),
                          settings, overlap).answers(data.items, model, Replies(["[1] Leo", "x"]))
    assert gated.replies == ["[2] Leo", NO_ANSWER]


def test_reading_items_are_judged_on_overall_f1():
    data = held_out(reading_rows())
    assert data.reading and data.main_metric == "overall_f1"
    assert data.paired_metrics[:2] == ("f1", "overall_f1")
    base = answers_for(data, ["[1] The Louvre", "[1] Paris"])  # F1 0 and 0
    tuned = answers_for(data, ["[2] Leonardo", NO_ANSWER])  # F1 of P 1, R 1/3; and 1
    f1 = 2 * 1 * (1 / 3) / (1 + 1 / 3)
    assert paired_difference(tuned, base, data.items, "f1", 200, 0)["difference"] == pytest.approx(f1)
    assert paired_difference(tuned, base, data.items, "overall_f1", 200, 0)["difference"] == (
        pytest.approx((f1 + 1) / 2))
    assert best_model({"base": base, "tuned": tuned}, data, 2) == (
        "tuned", {"base": (0.0, 1.0), "tuned": (round((f1 + 1) / 2, 4), 1.0)})
    assert not held_out(rows()).reading and held_out(rows()).main_metric == "cites_relevant"


def tiny_settings(questions, other_questions):
    """SFT and answer settings for comparing tiny models on CPU: short replies, few resamples,
    the loss on as many conversations as there are questions."""
    sft = PARAMS.sft.updated(
        train=PARAMS.sft.train.updated(max_length=256, device="cpu"),
        compare=PARAMS.sft.compare.updated(questions=questions, other_questions=other_questions,
                                           loss_conversations=questions, bootstrap=50))
    return sft, PARAMS.answers.updated(max_new_tokens=4, batch_size=2)


@pytest.mark.slow
def test_compare_models_on_a_tiny_model(tiny_base):
    sft, answers = tiny_settings(questions=3, other_questions=1)
    comparisons = compare_models({"base": tiny_base, "copy": tiny_base}, tiny_base,
                                 {"test": rows(), "again": rows()[:2]}, sft, answers,
                                 default="base", progress=False)
    results, answered = comparisons["test"].results, comparisons["test"].answered
    assert results["base"]["items"] == 5 and results["copy"]["items"] == 2  # one question + variant
    assert answered["copy"].replies == answered["base"].replies[:2]  # the same model, greedy
    assert results["copy"]["vs_base"]["well_formed"]["difference"] == 0.0
    assert results[BASELINE]["cites_relevant"] == 0.5  # q1's relevant is [2], q2's is [1]
    assert results["base"]["loss"] > 0 and results["base"]["perplexity"] > 1
    # the second set: answered by the same loaded models (the loss only on the first set)
    again = comparisons["again"]
    assert again.answered["base"].replies == answered["base"].replies[:2]
    assert "loss" not in again.results["base"] and again.results[BASELINE]["items"] == 2


@pytest.mark.slow
def test_compare_models_resumed_reads_its_replies_and_answers_the_same(tiny_base, tmp_path):
    from hybridrag.sft.reply_cache import ReplyCache

    sft, answers = tiny_settings(questions=3, other_questions=3)

    def compare(cache):
        return compare_models({"base": tiny_base}, tiny_base, {"test": rows()}, sft, answers,
                              default="base", progress=False, reply_cache=cache)["test"]

    first = ReplyCache(tmp_path / "replies.sqlite")
    generated = compare(first)
    resumed = ReplyCache(tmp_path / "replies.sqlite")
    read = compare(resumed)
    assert first.misses == resumed.hits > 0 and resumed.misses == 0
    assert read.answered == generated.answered
    assert read.answered["base"] == compare(None).answered["base"]  # what no cache answers


@pytest.mark.slow
def test_compare_models_on_reading_items_with_the_extractive_baseline(tiny_base, tmp_path):
    from hybridrag.answers.scoring import EXTRACTIVE
    from hybridrag.sft.report import write_report

    sft, answers = tiny_settings(questions=2, other_questions=2)
    comparison = compare_models({"base": tiny_base}, tiny_base, {"test": reading_rows()}, sft,
                                answers, default="base", progress=False,
                                sentence_scorer=overlap,
                                product=ProductPolicy(None, overlap, answers, overlap))["test"]
    results, answered, data = comparison.results, comparison.answered, comparison.data
    # "Who painted it?" shares "painted" with source 2 only; "Who stole it?" shares nothing, so
    # the first sentence listed wins: both replies are sentences, neither abstains
    first = data.items[1].sources[0].text
    assert answered[EXTRACTIVE].replies == ["[2] Leonardo da Vinci painted the Mona Lisa.",
                                            f"[1] {first}"]
    f1 = 2 * (3 / 6) * 1 / (3 / 6 + 1)  # "leonardo da vinci" of 6 tokens ("the" dropped); recall 1
    assert results[EXTRACTIVE]["f1"] == pytest.approx(round(f1, 4))
    assert results[EXTRACTIVE]["overall_f1"] == pytest.approx(round(f1 / 2, 4))
    assert set(results["base"]["vs_extractive"]) == {"f1", "overall_f1"}
    assert "vs_extractive" not in results[EXTRACTIVE]
    assert results[PRODUCT]["items"] == results["base"]["items"]  # the default's replies, shown
    assert set(results[PRODUCT]["vs_base"]) >= {"f1", "overall_f1"}
    write_report(tmp_path / "report.md", results, [], data, sft, answers, None)
    report = (tmp_path / "report.md").read_text()
    assert "| model | overall_f1 | f1 | exact_match |" in report
    assert "against the extractive baseline" in report


def test_compared_models_are_base_the_sft_methods_in_their_order_then_dpo(tmp_path):
    models = compared_models(tmp_path / "base", tmp_path / "sft", tmp_path / "dpo",
                             ["full", "lora"])
    assert list(models.items()) == [("base", tmp_path / "base"), ("lora", tmp_path / "sft/lora"),
                                    ("full", tmp_path / "sft/full"), ("dpo", tmp_path / "dpo")]
