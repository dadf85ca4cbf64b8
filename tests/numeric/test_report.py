"""The numeric report: the paired comparisons on hand-made predictions, the table, the plot."""

import pytest

from hybridrag.numeric.evaluation import NumericPrediction, comparisons, score_predictions
from hybridrag.numeric.report import plot_scatter, write_report


def predictions_of(errors, head=None):
    return [NumericPrediction(f"q{i}", 1900.0 + i, "x", None if e is None else 1900.0 + i + e,
                              None if head is None else 1900.0 + i + head)
            for i, e in enumerate(errors)]


PREDICTIONS = {("base", "none"): predictions_of([None, 40, 30, None]),
               ("base", "retrieved"): predictions_of([5, 0, 10, None]),
               ("sft", "none"): predictions_of([20, 20, 20, 20]),
               ("sft", "retrieved"): predictions_of([2, 0, 4, 6]),
               ("hybrid", "none"): predictions_of([10, -10, 20, 20], head=3),
               ("hybrid", "retrieved"): predictions_of([1, 0, 4, 7], head=3)}


def test_comparisons_pair_the_same_questions():
    result = comparisons(PREDICTIONS, 200, 0)
    assert result["sft: retrieved - none, absolute error"]["difference"] == pytest.approx(-17.0)
    assert result["retrieved: hybrid - sft, absolute error"]["difference"] == pytest.approx(0.0)
    assert result["none: hybrid - sft, absolute error"]["difference"] == pytest.approx(-5.0)
    assert result["none: sft - base, parse failure"]["difference"] == pytest.approx(-0.5)
    assert result["base: retrieved - none, absolute error"]["items"] == 2


def test_report_holds_every_row_and_the_plot_is_a_png(tmp_path):
    scores = {f"{m} / {c}": score_predictions(p, [1, 5]) for (m, c), p in sorted(PREDICTIONS.items())}
    summary = {"questions": 4, "answer_in_sources": 0.5, "scores": scores,
               "comparisons": comparisons(PREDICTIONS, 50, 0), "seconds": 1.0, "machine": "test"}
    write_report(tmp_path / "numeric.md", summary, [1, 5],
                 [{"question": "q?", "true": 1900.0, "sft / none": "1920"}])
    report = (tmp_path / "numeric.md").read_text()
    assert "| hybrid | retrieved | head |" in report and "| base | none | generated | 4 | 0.5 |" in report
    assert "within_5" in report and "| q? | 1900 | 1920 |" in report
    plot_scatter(tmp_path / "scatter.png", PREDICTIONS)
    assert (tmp_path / "scatter.png").read_bytes()[:4] == b"\x89PNG"


def test_nothing_held_out_still_writes_a_report_and_a_plot(tmp_path):
    summary = {"questions": 0, "answer_in_sources": 0.0, "scores": {}, "comparisons": {},
               "seconds": 0.0, "machine": "test"}
    write_report(tmp_path / "numeric.md", summary, [1], [])
    assert "0 held-out questions" in (tmp_path / "numeric.md").read_text()
    plot_scatter(tmp_path / "scatter.png", {})
    assert (tmp_path / "scatter.png").read_bytes()[:4] == b"\x89PNG"
