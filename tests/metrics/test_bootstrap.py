"""The paired bootstrap interval: seeded, around the mean, degenerate without spread."""

from hybridrag.metrics.bootstrap import mean_difference


def test_interval_contains_the_mean_and_repeats_with_the_seed():
    differences = [0.0, 1.0, 1.0, 0.0, 1.0, -1.0, 2.0, 0.0]
    result = mean_difference(differences, 500, seed=3)
    assert result["difference"] == 0.5 and result["items"] == 8
    low, high = result["ci95"]
    assert low < 0.5 < high and result == mean_difference(differences, 500, seed=3)


def test_no_spread_and_no_items():
    assert mean_difference([2.0, 2.0], 100, 0)["ci95"] == [2.0, 2.0]
    assert mean_difference([], 100, 0) is None
