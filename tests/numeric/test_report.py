"""The numeric report: the paired comparisons on hand-made predictions, the tables per question
set, the plot."""

import pytest

from hybridrag.numeric.evaluation import NumericPrediction, comparisons, score_predictions
from hybridrag.numeric.report import plot_scatter, write_report


def predictions_of(errors, head=None):
    return [NumericPrediction(f"q{i}", 1900.0 + i, "x", None if e is None else 1900.0 + i + e,
                              None if head is None else 1900.0 + i + head)
            for i, e in enumerate(errors)]


PREDICTIONS = {("years", "none", "base"): predictions_of([None, 40, 30, None]),
               ("years", "sources", "base"): predictions_of([5, 0, 10, None]),
               ("years", "none", "sft"): predictions_of([20, 20, 20, 20]),
               ("years", "sources", "sft"): predictions_of([2, 0, 4, 6]),
               ("years", "semantic", "sft"): predictions_of([10, 0, -4, 2]),
               ("years", "keyword", "sft"): predictions_of([12, -4, 4, 4]),
               ("years", "none", "hybrid"): predictions_of([10, -10, 20, 20], head=3),
               ("years", "sources", "hybrid"): predictions_of([1, 0, 4, 7], head=3),
               ("in_text", "none", "sft"): predictions_of([1, 2, 3, 4]),
               ("years", "semantic", "examples"): predictions_of([30, -2, 4, None]),
               ("years", "keyword", "examples"): predictions_of([20, 6, 8, 0])}


def test_comparisons_pair_the_same_questions():
    result = comparisons(PREDICTIONS, 200, 0)
    assert result["years: sft: sources - none, absolute error"]["difference"] == pytest.approx(-17.0)
    assert result["years: sft: semantic - none, absolute error"]["difference"] == pytest.approx(-16.0)
    assert result["years: sft: semantic - keyword, absolute error"]["difference"] == \
        pytest.approx(-2.0)  # (10 - 12 + 0 - 4 + 4 - 4 + 2 - 4) / 4
    assert result["years: sources: hybrid - sft, absolute error"]["difference"] == pytest.approx(0.0)
    assert result["years: none: hybrid - sft, absolute error"]["difference"] == pytest.approx(-5.0)
    assert result["years: none: sft - base, parse failure"]["difference"] == pytest.approx(-0.5)
    assert result["years: base: sources - none, absolute error"]["items"] == 2
    assert result["years: semantic: sft - examples, absolute error"]["difference"] == \
        pytest.approx(-22 / 3, abs=1e-4)  # (10 - 30 + 0 - 2 + 4 - 4) / 3: the fourth has no examples
    assert result["years: examples: semantic - keyword, absolute error"]["difference"] == \
        pytest.approx(2 / 3, abs=1e-4)  # (30 - 20 + 2 - 6 + 4 - 8) / 3
    assert "years: semantic: examples - base, parse failure" not in result  # not a model
    assert "years: keyword: examples - sft, absolute error" not in result  # one way round
    assert "years: base: semantic - none, absolute error" not in result  # base was not asked so
    assert not [name for name in result if name.startswith("in_text")]  # one context, one model


def test_report_holds_every_set_and_row_and_the_plot_is_a_png(tmp_path):
    scores = {" / ".join(key): score_predictions(p, [1, 5]) for key, p in PREDICTIONS.items()}
    summary = {"questions": {"years": 4, "in_text": 4},
               "answer_in_context": {"years / none": None, "years / sources": 0.5},
               "scores": scores, "comparisons": comparisons(PREDICTIONS, 50, 0),
               "machine": "test"}
    write_report(tmp_path / "numeric.md", summary, [1, 5],
                 {"years": [{"question": "q?", "true": 1900.0, "none / sft": "1920"}]})
    report = (tmp_path / "numeric.md").read_text()
    assert "## years: 4 questions" in report and "## in_text: 4 questions" in report
    assert "| sources | 50% | hybrid | head |" in report
    assert "| none |  | base | generated | 4 | 0.5 |" in report
    assert "| sft: semantic - keyword, absolute error | -2 | 4 |" in report
    assert "within_5" in report and "| q? | 1900 | 1920 |" in report
    plot_scatter(tmp_path / "scatter.png", PREDICTIONS)
    assert (tmp_path / "scatter.png").read_bytes()[:4] == b"\x89PNG"


def test_nothing_held_out_still_writes_a_report_and_a_plot(tmp_path):
    summary = {"questions": {}, "answer_in_context": {}, "scores": {}, "comparisons": {},
               "machine": "test"}
    write_report(tmp_path / "numeric.md", summary, [1], {})
    assert "0 held-out questions" in (tmp_path / "numeric.md").read_text()
    plot_scatter(tmp_path / "scatter.png", {})
    assert (tmp_path / "scatter.png").read_bytes()[:4] == b"\x89PNG"
