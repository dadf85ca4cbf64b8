"""Numbers in free text, as a reader would take them: "-3.5", "1,234", "c. 1500", "500 BC",
"1770–1827" (a range: its first number). Used on the targets of training rows and on the
replies a model generates."""

from __future__ import annotations

import re

_NUMBER = re.compile(
    r"(?<!\w)(?<!\d\.)"                     # not inside a word or a dotted version number
    r"(?P<sign>[-−–])?"                   # ASCII hyphen, Unicode minus or a dash used as one
    r"(?P<digits>\d{1,3}(?:,\d{3})+|\d+)"  # 1,234 or 1234
    r"(?P<fraction>\.\d+)?"
    r"(?:\s*(?P<era>BCE?|B\.C\.|AD|CE|A\.D\.)(?!\w))?")


def numbers_in(text: str) -> list[float]:
    """Every number in `text`, in order; years before the common era are negative. A dash
    right after a letter or digit ("1770–1827", "Model-3") joins, it does not negate."""
    numbers = []
    for match in _NUMBER.finditer(text):
        value = float(match["digits"].replace(",", "") + (match["fraction"] or ""))
        negative = bool(match["sign"]) and not (match.start() > 0
                                                and text[match.start() - 1].isalnum())
        if negative or (match["era"] or "").startswith("B"):
            value = -value
        numbers.append(value)
    return numbers


def parse_number(text: str) -> float | None:
    """The first number in `text` (the start of a range), or None when there is none."""
    numbers = numbers_in(text)
    return numbers[0] if numbers else None


def format_number(value: float) -> str:
    """A target as an answer writes it: whole numbers without decimals, years BC as "500 BC"."""
    if value == int(value):
        return f"{-int(value)} BC" if value < 0 else str(int(value))
    return f"{value:g}"
