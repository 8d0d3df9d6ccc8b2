"""Two statistics the product does not use, kept for the tests that check them: Welch's t
and a bootstrap interval of a ratio of medians (the verdicts use Mann-Whitney U and the
rank interval in `tui_perf.bench.compare`)."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence

from tui_perf.bench.stats import percentile


def welch_t(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """(t, two-sided p) by Welch's test, p from the normal approximation (large samples)."""
    va, vb = statistics.variance(a), statistics.variance(b)
    se = math.sqrt(va / len(a) + vb / len(b))
    if se == 0:
        return 0.0, 1.0
    t = (statistics.fmean(b) - statistics.fmean(a)) / se
    return t, math.erfc(abs(t) / math.sqrt(2))


def ratio_ci(
    baseline: Sequence[float],
    current: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Bootstrap interval of median(current) / median(baseline); seeded, so reproducible."""
    rng = random.Random(seed)
    ratios = []
    for _ in range(resamples):
        b = statistics.median(rng.choices(baseline, k=len(baseline)))
        c = statistics.median(rng.choices(current, k=len(current)))
        ratios.append(c / b)
    tail = (1 - confidence) / 2 * 100
    return percentile(ratios, tail), percentile(ratios, 100 - tail)
