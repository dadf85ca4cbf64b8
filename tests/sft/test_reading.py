"""The reading source, by hand on a tiny SQuAD-format file: split by article, gold positions,
abstentions, references that are spans, follow-ups, and errors that name the bad field."""

import json
from collections import Counter

import pytest

from hybridrag.answers.prompt import NO_ANSWER
from hybridrag.config import ReadingParams
from hybridrag.sft.grounded import item_from_row
from hybridrag.sft.reading import (
    answerability_rows,
    read_squad,
    reading_examples,
    split_articles,
    split_summary,
)

ARTICLES = ["Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta"]


def squad_file(tmp_path, paragraphs=3, questions=4):
    """Six articles; paragraph p of article A says "A p colour is <word>." and its questions
    ask for that word (answerable) or for a number it never states (unanswerable)."""
    data = []
    for title in ARTICLES:
        paragraphs_ = []
        for p in range(paragraphs):
            word = f"{title.lower()}{p}colour"
            context = f"The {title} {p} colour is {word}. Nothing else is said."
            qas = []
            for q in range(questions):
                if q % 2 == 0:
                    qas.append({"id": f"{title}-{p}-{q}", "question": f"What is {title} {p} colour ({q})?",
                                "answers": [{"text": word, "answer_start": context.index(word)}],
                                "is_impossible": False})
                else:
                    qas.append({"id": f"{title}-{p}-{q}", "question": f"How many {title} {p} ({q})?",
                                "answers": [], "is_impossible": True})
            paragraphs_.append({"context": context, "qas": qas})
        data.append({"title": title, "paragraphs": paragraphs_})
    path = tmp_path / "squad.json"
    path.write_text(json.dumps({"version": "v2.0", "data": data}))
    return path


def params(**changes):
    values = dict(path="unused", validation_articles=1, test_articles=1, same_article_share=0.5,
                  no_answer_share=0.0, follow_up_share=0.0, train_unanswerable_share=None,
                  max_train=None, max_validation=None,
                  max_test=None, grounded_share=0.0)
    return ReadingParams(**{**values, **changes})


def keep(text):
    return text


def test_split_is_by_article_and_sources_come_from_the_split(tmp_path):
    articles, dropped = read_squad(squad_file(tmp_path), keep)
    assert not dropped
    splits = split_articles(articles, 1, 1, seed=3)
    titles = {name: {a.title for a in part} for name, part in splits.items()}
    assert [len(titles[s]) for s in ("train", "validation", "test")] == [4, 1, 1]
    assert set.union(*titles.values()) == set(ARTICLES)
    examples = reading_examples(articles, params(), k=3, seed=3)
    for split, part in examples.items():
        assert len(part) == 3 * 4 * len(titles[split])  # every question of the split's articles
        for example in part:
            assert example.query_id.split("-")[0] in titles[split]
            assert {s.doc_id.split("#")[0] for s in example.item.sources} <= titles[split]


def test_references_are_cited_spans_and_unanswerable_questions_abstain(tmp_path):
    articles, _ = read_squad(squad_file(tmp_path), keep)
    examples = reading_examples(articles, params(), k=3, seed=5)["train"]
    kinds = Counter(e.kind for e in examples)
    assert kinds == {"answer": len(examples) // 2, "unanswerable": len(examples) // 2}
    for example in examples:
        item = example.item
        title, paragraph, _ = example.query_id.split("-")
        own = f"{title}#{paragraph}"
        assert len(item.sources) == 3 and own in [s.doc_id for s in item.sources]
        assert len({s.doc_id for s in item.sources}) == 3
        if example.kind == "answer":
            gold = item.relevant[0]
            word = f"{title.lower()}{paragraph}colour"
            assert item.sources[gold - 1].doc_id == own
            assert example.messages[-1]["content"] == item.reference == f"[{gold}] {word}"
            assert item.answers == (word,)
        else:  # its paragraph is shown, but nothing answers it
            assert item.relevant == () and item.reference == NO_ANSWER and item.answers == ()
        assert item_from_row(example.row()) == item


def test_gold_positions_vary_uniformly(tmp_path):
    articles, _ = read_squad(squad_file(tmp_path, paragraphs=6, questions=10), keep)
    examples = reading_examples(articles, params(), k=3, seed=7)["train"]
    positions = Counter(e.item.relevant[0] for e in examples if e.item.relevant)
    assert set(positions) == {1, 2, 3}
    assert min(positions.values()) > 0.2 * sum(positions.values())  # about a third each


def test_no_answer_share_leaves_the_paragraph_out(tmp_path):
    articles, _ = read_squad(squad_file(tmp_path), keep)
    examples = reading_examples(articles, params(no_answer_share=1.0), k=3, seed=5)["train"]
    assert {e.kind for e in examples} == {"no_answer", "unanswerable"}
    for example in (e for e in examples if e.kind == "no_answer"):
        title, paragraph, _ = example.query_id.split("-")
        assert f"{title}#{paragraph}" not in [s.doc_id for s in example.item.sources]
        assert example.item.reference == NO_ANSWER and example.item.relevant == ()
    summary = split_summary([], examples)
    assert summary["abstention_share"] == 1.0 and summary["gold_position"] == {}


def test_same_article_share_chooses_where_distractors_come_from(tmp_path):
    articles, _ = read_squad(squad_file(tmp_path), keep)
    for share, expected in ((1.0, True), (0.0, False)):
        for example in reading_examples(articles, params(same_article_share=share), 3, 5)["train"]:
            title = example.query_id.split("-")[0]
            others = [s for s in example.item.sources if s.number not in example.item.relevant
                      and s.doc_id != f"{title}#{example.query_id.split('-')[1]}"]
            assert all((s.doc_id.split("#")[0] == title) == expected for s in others)


def test_follow_ups_ask_another_question_on_the_same_paragraph(tmp_path):
    articles, _ = read_squad(squad_file(tmp_path), keep)
    examples = reading_examples(articles, params(follow_up_share=1.0), k=3, seed=5)
    train = [e for e in examples["train"] if e.kind == "answer"]
    assert train and all(len(e.messages) == 5 for e in train)
    for example in train:
        title, paragraph, _ = example.query_id.split("-")
        follow_up, reply = example.messages[3]["content"], example.messages[4]["content"]
        assert follow_up.startswith(f"What is {title} {paragraph} colour")
        assert follow_up != example.messages[1]["content"]
        assert reply == f"[{example.item.relevant[0]}] {title.lower()}{paragraph}colour"
    assert all(len(e.messages) == 3 for e in examples["test"] + examples["validation"])


def test_answers_cut_off_by_the_budget_are_dropped_and_counted(tmp_path):
    def first_four_words(text):
        return " ".join(text.split()[:4])  # "The Alpha 0 colour": the answer is cut

    articles, dropped = read_squad(squad_file(tmp_path), first_four_words)
    assert dropped == {"answer_beyond_budget": 6 * 3 * 2}
    assert all(not q.answers for a in articles for q in a.questions)


def test_a_bad_file_names_the_field(tmp_path):
    path = squad_file(tmp_path)
    data = json.loads(path.read_text())
    del data["data"][2]["paragraphs"][1]["qas"][3]["question"]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"data\.2\.paragraphs\.1\.qas\.3\.question"):
        read_squad(path, keep)
    with pytest.raises(ValueError, match="leave none"):
        split_articles(read_squad(squad_file(tmp_path), keep)[0], 3, 3, seed=1)


def test_training_unanswerable_questions_are_capped(tmp_path):
    articles, _ = read_squad(squad_file(tmp_path), keep)  # half the questions unanswerable
    examples = reading_examples(articles, params(train_unanswerable_share=0.2), k=3, seed=5)
    kinds = Counter(e.kind for e in examples["train"])
    # 4 training articles x 3 paragraphs x 2 answerable questions = 24; 0.2 / 0.8 * 24 = 6
    assert kinds == {"answer": 24, "unanswerable": 6}
    test_kinds = Counter(e.kind for e in examples["test"])  # held-out splits keep the file's
    assert test_kinds == {"answer": 6, "unanswerable": 6}


def test_the_stage_mixes_grounded_conversations_into_training(tmp_path, smol_tokenizer):
    from hybridrag.sft.chatml import reading_splits

    from ..conftest import PARAMS

    chatml = PARAMS.sft.chatml
    reading = params(path=str(squad_file(tmp_path)), grounded_share=0.5)
    settings = PARAMS.updated(
        answers=PARAMS.answers.updated(source_tokens=160),
        sft=PARAMS.sft.updated(chatml=chatml.updated(source="reading", reading=reading)))
    grounded = [{"messages": [{"role": "user", "content": f"grounded {i}"}]} for i in range(100)]
    rows, summary = reading_splits(settings, smol_tokenizer, lambda: {"train": grounded})
    trained = summary["train"]["conversations"]  # the reading ones: 4 articles x 12 questions
    assert trained == 48 and summary["grounded_train_conversations"] == 24
    assert len(rows["train"]) == 72
    assert sum(r["messages"][0]["content"].startswith("grounded") for r in rows["train"]) == 24
    assert all("answers" in r["meta"] for r in rows["validation"] + rows["test"])


def test_the_full_rag_loop_retrieves_from_the_test_articles_paragraphs(tmp_path, smol_tokenizer):
    from hybridrag.sft.reading import rag_loop_rows

    from ..conftest import MODEL, PARAMS

    path = squad_file(tmp_path)
    reading = params(path=str(path))
    settings = PARAMS.updated(
        answers=PARAMS.answers.updated(source_tokens=160, rerank=False, sources=2, device="cpu"),
        embed=PARAMS.embed.updated(model=MODEL, device="cpu"),
        sft=PARAMS.sft.updated(chatml=PARAMS.sft.chatml.updated(source="reading", reading=reading)))
    found = rag_loop_rows(settings, smol_tokenizer, None, tmp_path / "index", counts=[2, 1])
    rows = found[2]
    assert list(found) == [2, 1] and [r["meta"]["query_id"] for r in found[1]] == [
        r["meta"]["query_id"] for r in rows]  # every count asks the same questions in order
    assert all(len(r["meta"]["sources"]) == 1 for r in found[1])
    test_article = split_articles(read_squad(path, keep)[0], 1, 1, PARAMS.sft.chatml.seed)["test"][0]
    assert len(rows) == 12  # every question of the one test article (3 paragraphs x 4)
    assert {r["meta"]["query_id"].split("-")[0] for r in rows} == {test_article.title}
    kinds = Counter(r["meta"]["kind"] for r in rows)
    assert kinds["unanswerable"] == 6 and kinds["answer"] + kinds["retrieval_miss"] == 6
    assert kinds["answer"] >= 4  # "What is Alpha 1 colour?" finds "The Alpha 1 colour is ..."
    for row in rows:
        meta = row["meta"]
        title, paragraph, _ = meta["query_id"].split("-")
        doc_ids = [s["doc_id"] for s in meta["sources"]]
        assert len(doc_ids) == 2 and all(d.startswith(f"{title}#") for d in doc_ids)
        if meta["kind"] == "answer":
            gold = meta["relevant"][0]
            assert doc_ids[gold - 1] == f"{title}#{paragraph}"
            assert row["messages"][-1]["content"] == f"[{gold}] {title.lower()}{paragraph}colour"
        if meta["kind"] == "retrieval_miss":  # judged end to end: the gold answer stays
            assert f"{title}#{paragraph}" not in doc_ids and meta["answers"] and not meta["relevant"]


def test_answerability_rows_label_each_question_s_paragraph_and_other_paragraphs(tmp_path):
    articles, _ = read_squad(squad_file(tmp_path, paragraphs=3, questions=2), keep)
    alpha = [a for a in articles if a.title == "Alpha"]
    rows = answerability_rows(alpha, negatives=1, limit=None, seed=3)
    # by hand: 3 paragraphs x 2 questions (one answerable, one impossible), each with its own
    # paragraph (1 / 0) and one other paragraph of the article (0)
    assert len(rows) == 12 and sum(label for _, _, label in rows) == 3
    for question, passage, label in rows:
        own = question.split()[3] == passage.split()[2]  # "What is Alpha 1 colour" / "The Alpha 1"
        if label == 1.0:
            assert own and question.startswith("What")
        elif own:
            assert question.startswith("How many")
    assert sorted(rows) == sorted(answerability_rows(alpha, 1, None, seed=3))
    subset = answerability_rows(alpha, negatives=2, limit=5, seed=3)
    assert len(subset) == 5 and set(subset) <= set(answerability_rows(alpha, 2, None, seed=3))
