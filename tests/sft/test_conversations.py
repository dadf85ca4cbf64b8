import json

import pytest

from hybridrag.errors import InputError
from hybridrag.ingest.fields import FieldError
from hybridrag.jsonl import RowPolicy
from hybridrag.sft.conversations import (
    chitchat_conversations,
    deduplicate,
    from_alpaca,
    from_sharegpt,
    read_conversations,
    split_conversations,
    validate,
)

U, A = "user", "assistant"


def test_alpaca_becomes_one_exchange():
    assert validate(from_alpaca({"instruction": "Add", "input": "2 and 3", "output": "5",
                                 "system": "Be exact."})) == [
        {"role": "system", "content": "Be exact."}, {"role": U, "content": "Add\n\n2 and 3"},
        {"role": A, "content": "5"}]
    assert validate(from_alpaca({"instruction": "Hi", "output": "Hello"}))[0]["content"] == "Hi"


def test_sharegpt_roles_are_mapped():
    record = {"conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "q"},
                                {"from": "gpt", "value": "a"}]}
    assert [m["role"] for m in validate(from_sharegpt(record))] == ["system", U, A]


def test_validation_trims_a_trailing_user_turn_and_applies_max_turns():
    messages = [{"role": U, "content": "1"}, {"role": A, "content": "2"},
                {"role": U, "content": "3"}, {"role": A, "content": "4"}, {"role": U, "content": "5"}]
    assert [m["content"] for m in validate(messages)] == ["1", "2", "3", "4"]
    assert [m["content"] for m in validate(messages, max_turns=3)] == ["1", "2"]


@pytest.mark.parametrize("messages,field,message", [
    ([], "messages", "non-empty list"),
    ([{"role": "bot", "content": "x"}], "messages[0].role", "must be one of"),
    ([{"role": U, "content": "  "}, {"role": A, "content": "x"}], "messages[0].content", "is empty"),
    ([{"role": U, "content": 3}], "messages[0].content", "must be a string"),
    ([{"role": A, "content": "x"}], "messages[0].role", "expected 'user'"),
    ([{"role": U, "content": "x"}, {"role": U, "content": "y"}], "messages[1].role", "alternate"),
    ([{"role": U, "content": "x"}, {"role": "system", "content": "y"}], "messages[1].role",
     "only as the first"),
    ([{"role": U, "content": "x"}], "messages", "no assistant reply"),
])
def test_bad_conversations_name_the_field(messages, field, message):
    with pytest.raises(FieldError, match=message) as caught:
        validate(messages)
    assert caught.value.field == field


def test_bad_rows_name_file_and_line_or_are_counted(tmp_path):
    path = tmp_path / "chats.jsonl"
    good = {"messages": [{"role": U, "content": "hi"}, {"role": A, "content": "hello"}]}
    path.write_text("\n".join([json.dumps(good), "{oops", json.dumps({"messages": [{"role": U}]}),
                               json.dumps({"instruction": "x"})]) + "\n")
    with pytest.raises(InputError, match=r"chats.jsonl:2: not valid JSON"):
        list(read_conversations(path, "messages", RowPolicy("raise")))
    policy = RowPolicy("skip")
    assert len(list(read_conversations(path, "messages", policy))) == 1
    assert policy.skipped == {"invalid JSON": 1, "field 'messages'": 2}
    alpaca = RowPolicy("skip")
    assert list(read_conversations(path, "alpaca", alpaca)) == []
    assert "chats.jsonl:4: field 'output'" in " ".join(alpaca.examples)


def test_deduplicate_ignores_case_and_spacing():
    a = [{"role": U, "content": "Hi  there"}, {"role": A, "content": "Hello"}]
    b = [{"role": U, "content": "hi there"}, {"role": A, "content": "hello"}]
    c = [{"role": U, "content": "Other"}, {"role": A, "content": "Hello"}]
    assert deduplicate([a, b, c]) == ([a, c], 1)


def test_split_is_seeded_disjoint_and_complete():
    conversations = [[{"role": U, "content": str(i)}, {"role": A, "content": "x"}] for i in range(100)]
    splits = split_conversations(conversations, 0.1, 0.2, seed=4)
    assert {k: len(v) for k, v in splits.items()} == {"test": 20, "validation": 10, "train": 70}
    contents = [c[0]["content"] for part in splits.values() for c in part]
    assert sorted(contents) == sorted(str(i) for i in range(100))
    assert splits == split_conversations(conversations, 0.1, 0.2, seed=4)
    assert splits != split_conversations(conversations, 0.1, 0.2, seed=5)


def test_chitchat_conversations_alternate_and_end_with_a_reply():
    conversations = []
    for conversation in chitchat_conversations(max_turns=6):
        conversations.append(conversation)
        if len(conversations) == 200:
            break
    for conversation in conversations:
        roles = [m["role"] for m in conversation]
        assert roles == [U, A] * (len(roles) // 2) and 2 <= len(roles) <= 6
