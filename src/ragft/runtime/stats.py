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


def error_bar(successes: int, n: int) -> tuple[float, float]:
    """The distances below and above the rate to the interval's ends, as matplotlib's yerr/xerr wants."""
    low, high = wilson_interval(successes, n)
    rate = successes / n
    return rate - low, high - rate
