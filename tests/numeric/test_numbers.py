"""The number parser on the cases replies and targets hold."""

import pytest

from hybridrag.numeric.numbers import format_number, numbers_in, parse_number


@pytest.mark.parametrize(("text", "expected"), [
    ("He was born in 1770.", 1770.0),
    ("The temperature fell to -3.5 degrees", -3.5),
    ("−12 (a Unicode minus)", -12.0),
    ("about 1,234,567 people", 1234567.0),
    ("c. 1500", 1500.0),
    ("It was founded c.1500 by monks", 1500.0),
    ("(1770–1827)", 1770.0),
    ("1961-62", 1961.0),
    ("in 323 BC", -323.0),
    ("500 BCE", -500.0),
    ("AD 800", 800.0),
    ("0.25 of the votes", 0.25),
    ("The answer is 42", 42.0),
    ("Model-3 came first", 3.0),
    ("I do not know.", None),
    ("", None),
])
def test_first_number(text, expected):
    assert parse_number(text) == expected


def test_ranges_and_lists_keep_every_number_positive_after_a_dash():
    assert numbers_in("German composer (1770–1827)") == [1770.0, 1827.0]
    assert numbers_in("c. 2334–2154 BC") == [2334.0, -2154.0]
    assert numbers_in("scores 3, -4 and 5.5") == [3.0, -4.0, 5.5]
    assert numbers_in("version 2.0.1") == [2.0]  # not 2.0 and 1


@pytest.mark.parametrize(("value", "text"), [(1770.0, "1770"), (-323.0, "323 BC"), (0.25, "0.25")])
def test_format_number_round_trips(value, text):
    assert format_number(value) == text
    assert parse_number(format_number(value)) == value
