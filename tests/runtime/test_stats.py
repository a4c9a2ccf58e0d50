"""ragft.runtime.stats: Wilson intervals, checked against published values and their edge cases."""

import pytest

from ragft.runtime import stats


def test_wilson_matches_a_published_value():
    # Newcombe (1998), Table I: 81 of 263 -> 0.2553 to 0.3662.
    low, high = stats.wilson_interval(81, 263)
    assert low == pytest.approx(0.2553, abs=1e-4) and high == pytest.approx(0.3662, abs=1e-4)


def test_edges_stay_inside_zero_and_one_and_are_not_points():
    low, high = stats.wilson_interval(0, 32)
    assert low == 0.0 and 0.08 < high < 0.12
    low, high = stats.wilson_interval(32, 32)
    assert high == 1.0 and 0.88 < low < 0.92


@pytest.mark.parametrize("n", [1, 3, 7, 10, 32, 127])
def test_error_bars_are_never_negative_at_the_ends(n):
    for successes in (0, n):
        bars = stats.error_bar(successes, n)
        assert min(bars) == 0.0 and all(e >= 0 for e in bars)
    assert stats.wilson_interval(n, n)[1] == 1.0 and stats.wilson_interval(0, n)[0] == 0.0


def test_the_interval_narrows_as_the_sample_grows():
    small = stats.wilson_interval(10, 32)
    large = stats.wilson_interval(100, 320)
    assert small[1] - small[0] > large[1] - large[0]


def test_text_and_error_bars():
    assert stats.rate_with_interval(10, 32) == "10/32 = 31% (95% CI 18-49%)"
    below, above = stats.error_bar(10, 32)
    low, high = stats.wilson_interval(10, 32)
    assert below == pytest.approx(10 / 32 - low) and above == pytest.approx(high - 10 / 32)


@pytest.mark.parametrize(
    ("successes", "n", "message"), [(1, 0, "n must be > 0"), (5, 4, "successes must be")]
)
def test_bad_counts_are_rejected(successes, n, message):
    with pytest.raises(ValueError, match=message):
        stats.wilson_interval(successes, n)
