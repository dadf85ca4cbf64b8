"""The numeric source: a reply's number or a target field, and bad rows named by file and line."""

import json

import pytest

from hybridrag.answers.prompt import Source
from hybridrag.errors import InputError
from hybridrag.jsonl import RowPolicy
from hybridrag.numeric.numbers import parse_number
from hybridrag.numeric.rows import SolvedExample, question_row, read_numeric_rows
from hybridrag.numeric.years import YearQuestion


def write_rows(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def chat(reply, **extra):
    return {"messages": [{"role": "user", "content": "How many?"},
                         {"role": "assistant", "content": reply}], **extra}


def test_targets_come_from_the_field_or_the_reply(tmp_path):
    path = write_rows(tmp_path / "n.jsonl", [chat("About 1,200 of them."),
                                             chat("Roughly a dozen", target=12),
                                             chat("c. 1500", target="1500")])
    assert [row.target for row in read_numeric_rows(path, RowPolicy("raise"))] == [1200.0, 12.0, 1500.0]


def test_a_row_without_a_number_stops_the_stage_naming_file_and_line(tmp_path):
    path = write_rows(tmp_path / "n.jsonl", [chat("42"), chat("I cannot say.")])
    with pytest.raises(InputError, match=r"n\.jsonl:2: .*no number in its last assistant reply"):
        list(read_numeric_rows(path, RowPolicy("raise")))


def test_bad_rows_are_skipped_and_counted_when_asked(tmp_path):
    path = write_rows(tmp_path / "n.jsonl", [chat("42"), chat("none"), chat("7", target="many"),
                                             "{not json", chat("3")])
    policy = RowPolicy("skip")
    assert [row.target for row in read_numeric_rows(path, policy)] == [42.0, 3.0]
    assert policy.skipped == {"field 'messages'": 1, "field 'target'": 1, "invalid JSON": 1}
    assert any("n.jsonl:3" in where for where in policy.skipped_where["field 'target'"])


def test_a_corpus_question_becomes_a_grounded_row_whose_reply_parses_back():
    question = YearQuestion("q#born", "d", "In what year was Mark Antony born?", -83.0, "(83–30 BC)")
    source = Source(1, "d", 5, "Mark Antony", "Marcus Antonius was a Roman politician.")
    row = question_row(question, "sources", [source])
    assert row.messages[0]["role"] == "system" and "[1] Mark Antony:" in row.messages[0]["content"]
    assert row.messages[0]["content"].endswith("Answer with the number only.")
    assert row.messages[1] == {"role": "user", "content": "In what year was Mark Antony born?"}
    assert row.messages[2] == {"role": "assistant", "content": "83 BC"}
    assert parse_number(row.messages[2]["content"]) == row.target == -83.0
    assert (row.context, row.answer_in_context) == ("sources", False)
    plain = question_row(question, "none")
    assert plain.messages[0]["content"] == "Answer with the number only."
    assert plain.answer_in_context is None


def test_solved_examples_come_before_the_instruction_and_may_hold_the_answer():
    question = YearQuestion("q#born", "d", "In what year was Mark Antony born?", -83.0, "")
    examples = [SolvedExample("In what year was Cicero born?", -106.0, "c"),
                SolvedExample("In what year was Brutus born?", -83.0, "b")]
    row = question_row(question, "semantic", (), examples)
    assert row.messages[0]["content"] == (
        "Solved questions like this one, with their true answers:\n"
        "Q: In what year was Cicero born?\nA: 106 BC\n"
        "Q: In what year was Brutus born?\nA: 83 BC\n\nAnswer with the number only.")
    assert row.answer_in_context is True  # Brutus's year is Antony's
    assert row.example_values == (-106.0, -83.0)
    source = Source(1, "d", 5, "Mark Antony", "Born in 83 BC in Rome.")
    both = question_row(question, "both", [source], examples[:1])
    system = both.messages[0]["content"]
    assert system.index("[1] Mark Antony:") < system.index("Q: In what year was Cicero") < \
        system.index("Answer with the number only.")
    assert both.answer_in_context is True  # from the source's text


def test_held_out_rows_follow_the_given_context_order(tmp_path):
    from hybridrag.jsonl import write_jsonl
    from hybridrag.numeric.rows import held_out_rows

    question = YearQuestion("q#born", "d", "In what year was Mark Antony born?", -83.0, "")
    for question_set in ("years", "in_text"):
        for context in ("none", "sources", "keyword"):
            (tmp_path / question_set).mkdir(exist_ok=True)
            write_jsonl(tmp_path / question_set / f"{context}.jsonl",
                        [question_row(question, context).as_json()])
    rows = held_out_rows(tmp_path, ("keyword", "none", "sources"))
    assert list(rows) == [("in_text", "keyword"), ("in_text", "none"), ("in_text", "sources"),
                          ("years", "keyword"), ("years", "none"), ("years", "sources")]
    assert rows["years", "keyword"] == [question_row(question, "keyword")]
    shown = question_row(question, "semantic", (), [SolvedExample("Cicero?", -106.0, "c")])
    write_jsonl(tmp_path / "years" / "semantic.jsonl", [shown.as_json()])
    assert held_out_rows(tmp_path, ("semantic",))["years", "semantic"] == [shown]


def test_evaluation_rows_put_validation_first_then_the_test_sets(tmp_path):
    from hybridrag.jsonl import write_jsonl
    from hybridrag.numeric.rows import evaluation_rows

    question = YearQuestion("q#born", "d", "In what year was Mark Antony born?", -83.0, "")
    write_jsonl(tmp_path / "validation.jsonl", [question_row(question, "sources").as_json()])
    (tmp_path / "test" / "years").mkdir(parents=True)
    for context in ("none", "own"):
        write_jsonl(tmp_path / "test" / "years" / f"{context}.jsonl",
                    [question_row(question, "none").as_json()])
    rows = evaluation_rows(tmp_path, ("none",))
    assert list(rows) == [("validation", "mixed"), ("years", "none"), ("years", "own")]
    assert rows["validation", "mixed"] == [question_row(question, "sources")]
