"""Verdicts: faster, slower or same, with a significance test and a minimum effect.

A difference counts only when Mann-Whitney U says it is unlikely to be noise (p < alpha)
*and* the medians differ by at least `min_effect` (5% by default): a significant 0.3% is a
real but irrelevant change, and a 20% change on two noisy values is no evidence.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from tui_perf.bench.stats import mann_whitney_u, ratio_ci

FASTER, SLOWER, SAME = "faster", "slower", "same"


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str
    ratio: float  # median(current) / median(baseline): above 1 is slower
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str

    @property
    def change_percent(self) -> float:
        return (self.ratio - 1) * 100


def compare_values(
    name: str,
    baseline: Sequence[float],
    current: Sequence[float],
    *,
    alpha: float = 0.01,
    min_effect: float = 0.05,
    with_ci: bool = True,
) -> Verdict:
    ratio = statistics.median(current) / statistics.median(baseline)
    _, p = mann_whitney_u(baseline, current)
    verdict = SAME
    if p < alpha:
        if ratio >= 1 + min_effect:
            verdict = SLOWER
        elif ratio <= 1 - min_effect:
            verdict = FASTER
    lo, hi = ratio_ci(baseline, current) if with_ci else (ratio, ratio)
    return Verdict(name, ratio, lo, hi, p, verdict)


def compare(
    baseline: dict[str, Sequence[float]],
    current: dict[str, Sequence[float]],
    *,
    alpha: float = 0.01,
    min_effect: float = 0.05,
) -> list[Verdict]:
    """A verdict for every benchmark present in both runs, by name."""
    return [
        compare_values(name, baseline[name], current[name], alpha=alpha, min_effect=min_effect)
        for name in current
        if name in baseline
    ]


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    ratio: float
    p_value: float
    verdict: str
    recent: int
    before: int


def detect_step(
    name: str,
    run_medians: Sequence[float],
    *,
    recent: int = 3,
    before: int = 10,
    alpha: float = 0.05,
    min_effect: float = 0.05,
) -> Step | None:
    """A step change: the last `recent` runs against up to `before` runs preceding them.

    Catches a slowdown that crept in over several runs (each "same" against its predecessor)
    and a single run's luck cannot trigger it. None when there is not enough history.
    """
    if len(run_medians) < recent + 5:  # fewer cannot reach significance anyway
        return None
    last = list(run_medians[-recent:])
    prior = list(run_medians[-recent - before : -recent])
    ratio = statistics.median(last) / statistics.median(prior)
    _, p = mann_whitney_u(prior, last)
    verdict = SAME
    if p < alpha and ratio >= 1 + min_effect:
        verdict = SLOWER
    elif p < alpha and ratio <= 1 - min_effect:
        verdict = FASTER
    return Step(name, ratio, p, verdict, len(last), len(prior))
