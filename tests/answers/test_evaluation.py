from hybridrag.answers.evaluation import questions_to_answer, with_user_answers
from hybridrag.answers.prompt import NO_ANSWER, Source
from hybridrag.answers.scoring import judge, score_reply, summarize
from hybridrag.records import Dataset, Document, Query, UserQuestion

SOURCES = (Source(1, "d1", 10, "Install", "Run pip install hybridrag to install it."),
           Source(2, "d2", 20, "Usage", "Call hybridrag ask."))
USER = {"u1": UserQuestion("u1", "How to install?", ("d1",), ("pip install hybridrag",), "test"),
        "u2": UserQuestion("u2", "Capital of Mars?", (), (), "test"),
        "u3": UserQuestion("u3", "How to ask?", ("d2",), None, "test"),
        "v1": UserQuestion("v1", "Later?", (), (), "validation")}
DATASET = Dataset(
    documents=[Document("d1", "Install", "x"), Document("d2", "Usage", "y")],
    queries=[Query("k1", "known"), Query("k2", "train only"),
             *(Query(q.query_id, q.text) for q in USER.values())],
    qrels={"test": {"k1": {"d2": 1}, "u1": {"d1": 1}, "u3": {"d2": 1}},
           "train": {"k2": {"d1": 1}}},
    questions=list(USER.values()))


def test_the_split_s_judged_queries_and_the_user_s_unanswerable_ones_are_asked():
    asked = [q.query_id for q in questions_to_answer(DATASET, "test", None, 0)]
    assert asked == ["k1", "u1", "u2", "u3"]
    assert [q.query_id for q in questions_to_answer(DATASET, "validation", None, 0)] == ["v1"]
    subset = questions_to_answer(DATASET, "test", 2, 5)
    assert len(subset) == 2 and set(q.query_id for q in subset) <= set(asked)
    assert subset == questions_to_answer(DATASET, "test", 2, 5)


def test_the_user_s_answers_are_scored_like_squad():
    installed = with_user_answers(judge("How to install?", SOURCES, {"d1"}, {}), USER["u1"])
    mars = with_user_answers(judge("Capital of Mars?", SOURCES, set(), {}), USER["u2"])
    no_answer_given = with_user_answers(judge("How to ask?", SOURCES, {"d2"}, {}), USER["u3"])
    known = with_user_answers(judge("known", SOURCES, {"d2"}, {}), None)
    assert (installed.answers, mars.answers, no_answer_given.answers, known.answers) == (
        ("pip install hybridrag",), (), None, None)
    replies = ["[1] pip install hybridrag", NO_ANSWER,
               "[2] Call hybridrag ask.", "[2] known"]
    items = [installed, mars, no_answer_given, known]
    summary = summarize(items, [score_reply(i, r, True) for i, r in zip(items, replies, strict=True)])
    # by hand: two items carry answers; the answerable one matches exactly, the abstention on
    # the unanswerable one scores 1 in the overall rates
    assert (summary["reading_items"], summary["exact_match"], summary["f1"]) == (2, 1.0, 1.0)
    assert (summary["overall_exact"], summary["abstains_unanswerable"]) == (1.0, 1.0)
