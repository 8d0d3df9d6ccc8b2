"""Statistics for benchmark values: pure functions, no dependencies beyond the stdlib.

The significance test is Mann-Whitney U (rank-based: timing distributions are skewed and
have outliers, so a t-test's normality assumption does not hold; U also works for unequal
sample sizes). p-values use the normal approximation with tie and continuity corrections,
accurate enough from about 8 values per side.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Summary:
    """What a person reads from a set of per-loop times (seconds)."""

    n: int
    median: float
    mean: float
    stdev: float
    mad: float
    p50: float
    p95: float
    p99: float
    minimum: float
    maximum: float

    @property
    def cv(self) -> float:
        """Coefficient of variation: stdev over mean."""
        return self.stdev / self.mean if self.mean else 0.0

    @property
    def ops_per_s(self) -> float:
        return 1.0 / self.median if self.median else 0.0


def percentile(values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("no values to summarize")
    med = statistics.median(values)
    return Summary(
        n=len(values),
        median=med,
        mean=statistics.fmean(values),
        stdev=statistics.stdev(values) if len(values) > 1 else 0.0,
        mad=statistics.median(abs(v - med) for v in values),
        p50=percentile(values, 50),
        p95=percentile(values, 95),
        p99=percentile(values, 99),
        minimum=min(values),
        maximum=max(values),
    )


def mann_whitney_u(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """(U of `a`, two-sided p-value) for "a and b come from the same distribution"."""
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        raise ValueError("Mann-Whitney U needs values on both sides")
    pooled = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks = [0.0] * len(pooled)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[k] = rank
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    r1 = sum(r for r, (_, side) in zip(ranks, pooled, strict=True) if side == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    if sigma == 0:
        return u1, 1.0
    z = (abs(u1 - mu) - 0.5) / sigma
    p = math.erfc(max(z, 0.0) / math.sqrt(2))
    return u1, min(1.0, p)


@dataclass(frozen=True, slots=True)
class AmdahlFit:
    """Amdahl's law fitted to times at several worker counts: T(n) = T1 (s + (1 - s) / n)."""

    serial: float  # s, the fraction no worker count speeds up, clamped to [0, 1]
    t1: float  # the fitted time at one worker
    rms_error: float  # root-mean-square residual over the mean time: how well the law fits

    def predict(self, workers: int) -> float:
        return self.t1 * (self.serial + (1 - self.serial) / workers)

    @property
    def max_speedup(self) -> float:
        return 1 / self.serial if self.serial > 0 else math.inf

    def knee(self, min_gain: float) -> int | None:
        """The smallest worker count past which doubling saves less than `min_gain` of the
        time; None when the fit says the work is all parallel (no count is a knee).

        T(n) - T(2n) < g T(n)  <=>  n > (1 - s)(1/2 - g) / (g s).
        """
        if self.serial <= 0:
            return None
        bound = (1 - self.serial) * (0.5 - min_gain) / (min_gain * self.serial)
        return max(1, math.floor(bound) + 1)


def amdahl_fit(workers: Sequence[int], seconds: Sequence[float]) -> AmdahlFit:
    """Least squares of T = a + b x with x = 1/n (linear in x); s = a / (a + b)."""
    xs = [1 / n for n in workers]
    mx, my = statistics.fmean(xs), statistics.fmean(seconds)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, seconds, strict=True)) / sxx if sxx else 0.0
    intercept = my - slope * mx
    t1 = intercept + slope
    serial = min(1.0, max(0.0, intercept / t1)) if t1 > 0 else 1.0
    residuals = [y - (intercept + slope * x) for x, y in zip(xs, seconds, strict=True)]
    rms = math.sqrt(statistics.fmean(r * r for r in residuals))
    return AmdahlFit(serial, t1 if t1 > 0 else my, rms / my if my > 0 else math.inf)
