"""Numeric metrics by hand and against scikit-learn."""

import pytest
from sklearn.metrics import mean_absolute_error, r2_score

from hybridrag.metrics.numeric import numeric_metrics, r_squared


def test_metrics_by_hand():
    metrics = numeric_metrics([1770, 1775, None, 1800], [1770, 1770, 1900, 1790], [1, 5, 10])
    assert metrics["questions"] == 4 and metrics["parsed"] == 3
    assert metrics["parse_failure_rate"] == 0.25 and metrics["exact_match"] == 0.25
    assert (metrics["within_1"], metrics["within_5"], metrics["within_10"]) == (0.25, 0.5, 0.75)
    assert metrics["mae"] == pytest.approx(5.0)  # (0 + 5 + 10) / 3, the failure left out


def test_mae_and_r2_agree_with_scikit_learn():
    predictions, targets = [1.5, 2.0, 7.0, -3.0, 10.0], [1.0, 2.5, 6.0, -4.0, 12.0]
    metrics = numeric_metrics(predictions, targets, [])
    assert metrics["mae"] == pytest.approx(mean_absolute_error(targets, predictions))
    assert metrics["r2"] == pytest.approx(r2_score(targets, predictions))


def test_degenerate_inputs():
    assert r_squared([1.0], [2.0]) is None and r_squared([1.0, 2.0], [3.0, 3.0]) is None
    empty = numeric_metrics([], [], [1])
    assert empty["parse_failure_rate"] is None and empty["mae"] is None
    assert numeric_metrics([None], [3.0], [1])["within_1"] == 0.0
    with pytest.raises(ValueError, match="2 predictions for 1 targets"):
        numeric_metrics([1.0, 2.0], [1.0], [])
