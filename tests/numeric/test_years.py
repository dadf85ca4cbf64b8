"""Year questions from dated descriptions: lifespans on people, years on works and events."""

import pytest

from hybridrag.numeric.years import plain_title, stated_in, year_questions, year_questions_for
from hybridrag.records import Dataset, Document, Query

BEETHOVEN = Document("b", "Ludwig van Beethoven", "Beethoven was a German composer.", topic="People")


def asked(document, description):
    return [(q.question, q.target) for q in year_questions_for(document, "q", description)]


def test_a_lifespan_on_a_person_gives_birth_and_death_years():
    assert asked(BEETHOVEN, "German composer (1770–1827)") == [
        ("In what year was Ludwig van Beethoven born?", 1770.0),
        ("In what year did Ludwig van Beethoven die?", 1827.0)]
    assert asked(BEETHOVEN, "Sculptor (c. 1386–1466)")[0][1] == 1386.0


@pytest.mark.parametrize(("description", "years"), [
    ("Greek philosopher (c. 570 – c. 495 BC)", (-570.0, -495.0)),
    ("Roman politician and general (83–30 BC)", (-83.0, -30.0)),
    ("First Roman emperor (63 BC – AD 14)", (-63.0, 14.0)),
])
def test_years_before_the_common_era_are_negative(description, years):
    assert tuple(target for _, target in asked(BEETHOVEN, description)) == years


def test_a_dated_work_is_asked_with_the_verb_of_its_kind():
    film = Document("f", "Casablanca (film)", "A film.")
    assert asked(film, "1942 film by Michael Curtiz") == [("In what year was Casablanca released?", 1942.0)]
    novel = Document("n", "Dune (novel)", "A novel.")
    assert asked(novel, "1965 science fiction novel by Frank Herbert") == [
        ("In what year was Dune published?", 1965.0)]
    event = Document("e", "Chernobyl disaster", "An accident.")
    assert asked(event, "1986 nuclear accident in the Soviet Union") == [
        ("In what year did the Chernobyl disaster take place?", 1986.0)]


def test_undated_descriptions_and_lifespans_off_people_ask_nothing():
    assert asked(BEETHOVEN, "German composer") == []
    era = Document("t", "Tang dynasty", "An era.", topic="History")
    assert asked(era, "Imperial dynasty of China (618–907)") == []


def test_questions_follow_the_split_and_need_one_relevant_document():
    documents = [BEETHOVEN, Document("m", "Mozart", "Born in 1756.", topic="People")]
    dataset = Dataset(documents, [Query("q1", "German composer (1770–1827)"),
                                  Query("q2", "Austrian composer (1756–1791)")],
                      {"train": {"q1": {"b": 1}}, "test": {"q2": {"m": 1}}})
    test = list(year_questions(dataset, "test"))
    assert [q.question_id for q in test] == ["q2#born", "q2#died"]
    assert [stated_in(documents[1], q.target) for q in test] == [True, False]
    assert plain_title("Guernica (Picasso)") == "Guernica" and plain_title("(x)") == "(x)"
