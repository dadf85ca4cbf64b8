import pytest

from hybridrag.search.filters import (
    FilterError,
    Filters,
    filter_sql,
    parse_filters,
    parse_year_range,
)


@pytest.mark.parametrize("text,expected", [
    ("1999", (1999, 1999)), ("1990..2000", (1990, 2000)), ("1990..", (1990, None)),
    ("..2000", (None, 2000)), (" 1990 .. 2000 ", (1990, 2000)), ("-500..-400", (-500, -400)),
])
def test_year_ranges(text, expected):
    assert parse_year_range(text) == expected


@pytest.mark.parametrize("text", ["", "..", "19x9", "1990-2000", "1990..2000..2010", "12345"])
def test_malformed_year_ranges_are_named(text):
    with pytest.raises(FilterError, match="year must look like"):
        parse_year_range(text)


def test_parse_filters_collects_every_field():
    filters = parse_filters(["author=Curie", "year=1900..1950", "topic=Physical sciences",
                             "keyword=radium", "Keyword=physics", "language=fr", "file_type=pdf"])
    assert filters == Filters(author="Curie", year_min=1900, year_max=1950,
                              topic="Physical sciences", keywords=("radium", "physics"),
                              language="fr", file_type="pdf")
    assert filters.active
    assert not parse_filters([]).active


@pytest.mark.parametrize("specs,message", [
    (["colour=red"], "unknown filter field 'colour'"),
    (["author"], "must look like field=value"),
    (["topic="], "empty value"),
    (["author=a", "author=b"], "given twice"),
    (["year=2000..1990"], "is empty"),
])
def test_bad_filters_say_what_is_wrong(specs, message):
    with pytest.raises(FilterError, match=message):
        parse_filters(specs)


def test_sql_escapes_like_wildcards():
    condition, params = filter_sql(Filters(author="50%_off"))
    assert "LIKE ? ESCAPE" in condition
    assert params == ["%50\\%\\_off%"]
    assert filter_sql(Filters()) == ("1", [])


def test_language_and_file_type_match_exactly_in_any_case():
    condition, params = filter_sql(Filters(language="FR", file_type="pdf"), alias="x")
    assert condition == "x.language = ? COLLATE NOCASE AND x.file_type = ? COLLATE NOCASE"
    assert params == ["FR", "pdf"]
