"""Intervals for small samples: a rate measured on 32 questions moves by 3 points per answer.

Every rate the course reports on a few dozen items carries a 95% interval, so a learner can see which
differences the sample can and cannot tell apart.
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a proportion (95% by default): sensible at 0/n and n/n, unlike
    the normal approximation, which collapses to a point there."""
    if n <= 0:
        raise ValueError(f"n must be > 0, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}, got {successes}")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)  # exact ends, no rounding residue
    return low, high


def rate_with_interval(successes: int, n: int) -> str:
    """'10/32 = 31% (95% CI 18-49%)': the count, the rate and its Wilson interval, for tables and prose."""
    low, high = wilson_interval(successes, n)
    return f"{successes}/{n} = {successes / n:.0%} (95% CI {low * 100:.0f}-{high:.0%})"


def rate_cell(successes: int, n: int) -> str:
    """'29/32 (76-97%)': the count and its Wilson interval, short enough for a table with many columns."""
    low, high = wilson_interval(successes, n)
    return f"{successes}/{n} ({low * 100:.0f}-{high:.0%})"


def error_bar(successes: int, n: int) -> tuple[float, float]:
    """The distances below and above the rate to the interval's ends, as matplotlib's yerr/xerr wants."""
    low, high = wilson_interval(successes, n)
    rate = successes / n
    return rate - low, high - rate


def bootstrap_mean_interval(values, samples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of per-query values and its 95% percentile bootstrap interval (queries resampled, seeded).

    For means of graded per-query scores (nDCG, reciprocal rank) where no closed-form interval applies.
    """
    import numpy as np

    values = np.asarray(list(values), dtype=float)
    if values.size == 0:
        raise ValueError("values must not be empty")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (samples, len(values)))].mean(axis=1)
    return float(values.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def mean_interval(values, samples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean and 95% interval of per-query scores: Wilson when every score is 0 or 1 (a rate, such as
    recall@k with one gold document), a seeded bootstrap over the queries otherwise."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("values must not be empty")
    if all(v in (0.0, 1.0) for v in values):
        hits = int(sum(values))
        low, high = wilson_interval(hits, len(values))
        return hits / len(values), low, high
    return bootstrap_mean_interval(values, samples, seed)


def paired_bootstrap(
    a: dict[str, float], b: dict[str, float], samples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of a - b over shared queries and its 95% bootstrap interval (queries resampled, seeded).

    Both sides are scored on the same queries, so each query's difference is resampled as one unit.
    An interval that contains 0 means this many queries cannot tell the two apart.
    """
    import numpy as np

    keys = sorted(a.keys() & b.keys())
    if not keys:
        raise ValueError("a and b share no query")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    diff = np.array([a[q] - b[q] for q in keys])
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (samples, len(diff)))].mean(axis=1)
    return float(diff.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def verdict(low: float, high: float) -> str:
    """What a 95% interval of a difference says: 'higher' or 'lower' when it excludes 0, else
    'not distinguishable'."""
    if low > high:
        raise ValueError(f"low must be <= high, got {low} > {high}")
    return "higher" if low > 0 else "lower" if high < 0 else "not distinguishable"


def interval_text(mean: float, low: float, high: float, digits: int = 3) -> str:
    """'0.837 (0.771-0.897)': a mean and its interval, for a table column headed '95% CI'."""
    if not low - 1e-9 <= mean <= high + 1e-9:
        raise ValueError(f"mean must lie in its interval, got {mean} outside {low}-{high}")
    return f"{mean:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def proportion(flags) -> dict:
    """{"k", "n", "rate", "low", "high"} of a list of booleans: the rate with its 95% Wilson interval."""
    flags = [bool(f) for f in flags]
    if not flags:
        raise ValueError("flags must not be empty")
    k, n = sum(flags), len(flags)
    low, high = wilson_interval(k, n)
    return {"k": k, "n": n, "rate": round(k / n, 4), "low": round(low, 4), "high": round(high, 4)}


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value for paired right/wrong outcomes: only_a items right under A alone,
    only_b under B alone (items both get right or both get wrong carry no information on the difference)."""
    if only_a < 0 or only_b < 0:
        raise ValueError(f"counts must be >= 0, got {only_a} and {only_b}")
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2 * tail)
