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
    assert stats.rate_cell(10, 32) == "10/32 (18-49%)"
    assert stats.rate_cell(0, 16) == "0/16 (0-19%)"
    below, above = stats.error_bar(10, 32)
    low, high = stats.wilson_interval(10, 32)
    assert below == pytest.approx(10 / 32 - low) and above == pytest.approx(high - 10 / 32)


@pytest.mark.parametrize(
    ("successes", "n", "message"), [(1, 0, "n must be > 0"), (5, 4, "successes must be")]
)
def test_bad_counts_are_rejected(successes, n, message):
    with pytest.raises(ValueError, match=message):
        stats.wilson_interval(successes, n)


def test_bootstrap_mean_interval_is_seeded_and_brackets_the_mean():
    values = [0.0, 0.2, 0.5, 1.0, 0.33, 0.25, 1.0, 0.0]
    mean, low, high = stats.bootstrap_mean_interval(values)
    assert mean == pytest.approx(sum(values) / len(values)) and low < mean < high
    assert stats.bootstrap_mean_interval(values) == (mean, low, high)  # same seed, same interval
    assert stats.bootstrap_mean_interval([0.5, 0.5]) == (0.5, 0.5, 0.5)
    with pytest.raises(ValueError, match="values must not be empty"):
        stats.bootstrap_mean_interval([])
    with pytest.raises(ValueError, match="samples must be >= 1"):
        stats.bootstrap_mean_interval([1.0], samples=0)


def test_mean_interval_uses_wilson_for_rates_and_the_bootstrap_for_graded_scores():
    assert stats.mean_interval([1, 1, 0, 1]) == (0.75, *stats.wilson_interval(3, 4))
    assert stats.mean_interval([0.0] * 9) == (0.0, 0.0, stats.wilson_interval(0, 9)[1])  # not a point
    graded = [1.0, 0.5, 0.0, 1 / 3]
    assert stats.mean_interval(graded) == stats.bootstrap_mean_interval(graded)


def test_paired_bootstrap_resamples_differences_over_shared_queries():
    mean, low, high = stats.paired_bootstrap(
        {"q1": 1.0, "q2": 0.0, "q3": 0.5, "x": 9.0}, {"q1": 0.0, "q2": 0.0, "q3": 0.5}
    )
    assert mean == pytest.approx(1 / 3) and 0.0 <= low <= mean <= high <= 1.0  # 'x' is not shared: ignored
    assert stats.paired_bootstrap({"q": 1.0}, {"q": 1.0}) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="share no query"):
        stats.paired_bootstrap({"a": 1.0}, {"b": 1.0})


def test_verdict_and_interval_text():
    assert stats.verdict(0.01, 0.2) == "higher"
    assert stats.verdict(-0.3, -0.05) == "lower"
    assert stats.verdict(-0.1, 0.1) == "not distinguishable"
    with pytest.raises(ValueError, match="low must be <= high"):
        stats.verdict(0.2, 0.1)
    assert stats.interval_text(0.8367, 0.7621, 0.9049) == "0.837 (0.762-0.905)"
    with pytest.raises(ValueError, match="mean must lie in its interval"):
        stats.interval_text(0.5, 0.6, 0.9)


def test_proportion_and_exact_mcnemar():
    assert stats.proportion([True, False, True, True]) == {
        "k": 3,
        "n": 4,
        "rate": 0.75,
        "low": round(stats.wilson_interval(3, 4)[0], 4),
        "high": round(stats.wilson_interval(3, 4)[1], 4),
    }
    with pytest.raises(ValueError, match="flags must not be empty"):
        stats.proportion([])
    assert stats.mcnemar_exact(0, 0) == 1.0
    assert stats.mcnemar_exact(5, 5) == 1.0
    assert stats.mcnemar_exact(10, 0) == pytest.approx(2 / 2**10)  # all ten discordant pairs one way
    assert stats.mcnemar_exact(2, 9) == pytest.approx(stats.mcnemar_exact(9, 2))
    assert stats.mcnemar_exact(2, 8) == pytest.approx(2 * 56 / 1024)  # 2 P(X <= 2), X ~ Binomial(10, 1/2)
