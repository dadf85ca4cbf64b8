"""The gate's threshold for one index, chosen on that index's section headings: the threshold rule
by hand, the headings of a small Markdown folder, and the saved choice applied only for the gate
it was chosen for."""

import json
import logging
import shutil

import pytest

from hybridrag.answers.gate import CLASSIFIER_FOLDER, GATE_FILE, Gate
from hybridrag.answers.index_gate import (
    INDEX_GATE_FILE,
    calibrate_index_gate,
    evenly_spread,
    for_index,
    load_gate,
    section_questions,
)
from hybridrag.folder import index_folder
from hybridrag.jsonl import RowPolicy
from hybridrag.search.rerank import Reranker

from ..conftest import MODEL
from ..test_folder import folder_params


def test_a_sample_of_sections_is_spread_evenly_over_them():
    assert evenly_spread(list("abcdefghij"), 4) == ["a", "c", "f", "h"]  # 0, 10/4, 20/4, 30/4
    assert evenly_spread(list("abc"), 4) == ["a", "b", "c"] == evenly_spread(list("abc"), None)


@pytest.fixture(scope="module")
def markdown_index(tmp_path_factory):
    """test_folder's Markdown files indexed as index_folder indexes them."""
    root = tmp_path_factory.mktemp("markdown")
    index_folder(folder_params(root, []), {"base": MODEL}, root / "data", root / "index",
                 RowPolicy("raise"))
    return root / "index"


def test_each_section_is_asked_by_its_heading_of_its_first_chunk(markdown_index):
    questions = section_questions(markdown_index)
    assert [heading for heading, _ in questions] == ["Oiling", "Descaling", "Safety"]
    oiling, descaling, safety = (text for _, text in questions)
    assert "Drip oil on each" in oiling
    assert "Boil vinegar" in descaling and "Never open" not in descaling
    assert "Never open the lid" in safety


@pytest.fixture
def gate_folder(tmp_path, small_reranker):
    """A gate saved as choose_gate saves it, its classifier the small reranker."""
    shutil.copytree(small_reranker[1], tmp_path / "gate" / CLASSIFIER_FOLDER)
    (tmp_path / "gate" / GATE_FILE).write_text(json.dumps({"threshold": 0.5,
                                                           "chosen_on": "toy validation"}))
    return tmp_path / "gate"


def test_an_index_gets_its_threshold_from_its_headings_for_its_gate_only(
        tmp_path, markdown_index, gate_folder, small_reranker, caplog):
    index = tmp_path / "index"
    shutil.copytree(markdown_index, index)
    gate = Gate.load(gate_folder, device="cpu")
    record = calibrate_index_gate(gate, gate_folder, index, str.strip, 0.34, progress=False)
    classifier = Reranker.load(small_reranker[1], "cpu")
    texts = [text for _, text in section_questions(index)]  # their headings checked by hand above
    expected_scores = [float(classifier.scores(heading, [text.strip()])[0]) for heading, text in
                       zip(["Oiling", "Descaling", "Safety"], texts, strict=True)]
    expected = sorted(expected_scores)[1]  # 1 of 3 below
    assert record["threshold"] == pytest.approx(expected, abs=1e-6)
    assert (record["sections"], record["scored"], record["choose_gate_threshold"]) == (3, 3, 0.5)
    assert json.loads((index / INDEX_GATE_FILE).read_text()) == record
    loaded = load_gate(gate_folder, index, device="cpu")
    assert loaded.threshold == record["threshold"] != gate.threshold
    assert loaded.chosen_on == "3 section headings of this index, each asked of its own section"
    assert load_gate(gate_folder, markdown_index, device="cpu").threshold == 0.5  # none saved
    assert for_index(gate, None, index) is gate  # no folder: nothing to match the choice with

    sample = calibrate_index_gate(gate, gate_folder, index, str.strip, 0.0, max_sections=2,
                                  progress=False)  # Oiling and Descaling (0 and 3/2): the lower
    assert sample["threshold"] == pytest.approx(min(expected_scores[:2]), abs=1e-6)
    assert (sample["sections"], sample["scored"]) == (3, 2)
    assert sample["chosen_on"] == ("2 section headings of this index (spread evenly over its 3), "
                                   "each asked of its own section")

    (gate_folder / GATE_FILE).write_text(json.dumps({"threshold": 0.4, "chosen_on": "retrained"}))
    with caplog.at_level(logging.WARNING, logger="hybridrag.answers"):
        assert load_gate(gate_folder, index, device="cpu").threshold == 0.4  # its own
    assert "chosen for another answerability gate" in caplog.text


def test_without_a_classifier_or_sections_the_gate_keeps_its_threshold(
        tmp_path, markdown_index, small_index, gate_folder):
    index = tmp_path / "index"
    shutil.copytree(markdown_index, index)
    (index / INDEX_GATE_FILE).write_text("{}")  # a stale choice is removed, not kept
    record = calibrate_index_gate(Gate(0.5, "reranker scores"), gate_folder, index, str.strip,
                                  0.15, progress=False)
    assert record == {"threshold": None, "sections": 3, "note": "choose_gate's threshold is "
                      "kept: the gate scores with the reranker, not a classifier"}
    assert not (index / INDEX_GATE_FILE).exists()
    gate = Gate.load(gate_folder, device="cpu")
    plain = tmp_path / "plain"
    shutil.copytree(small_index, plain)  # the small corpus: documents without headings
    assert calibrate_index_gate(gate, gate_folder, plain, str.strip, 0.15, progress=False)[
        "note"].endswith("the index has no sections (Markdown or HTML headings)")
    assert calibrate_index_gate(None, gate_folder, plain, str.strip, 0.15,
                                progress=False)["note"].endswith("the gate is off")
