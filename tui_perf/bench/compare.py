"""Verdicts whose unit of evidence is the process, not the value.

Values taken in one process share its hash seed, memory layout, CPU frequency and
neighbours, so they are not independent: a rank test over them calls two reruns of identical
code different far too often. Here each process is reduced to its median, and the change
and its interval come from those medians (see `judge`): n processes are n pieces of
evidence, however many values each took.

A change is called only when its whole interval lies beyond the floor, the larger of the
threshold the user asked for and the noise floor learned from history (see `noise_floor`):
"slower" when the interval is above +floor, "faster" below -floor, "same" inside ±floor,
"unclear" when it crosses the floor (more processes would tell).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from tui_perf.bench.stats import mann_whitney_u
from tui_perf.model.format import fmt_percent

FASTER, SLOWER, SAME, UNCLEAR, UNKNOWN = "faster", "slower", "same", "unclear", "unknown"

#: runs of a benchmark on this machine needed before its noise floor is believed
MIN_NOISE_RUNS = 5
#: the most recent runs the noise floor is learned from
NOISE_RUNS = 20


def _change(fraction: float) -> str:
    """A change as a bound of an interval: '+1.2', '-14' (the '%' is written once, after)."""
    return fmt_percent(fraction, None, sign=True, unit="")


@dataclass(frozen=True, slots=True)
class Verdict:
    """A comparison of one benchmark: the change, its interval, and why it was called so."""

    name: str
    verdict: str
    ratio: float  # current / baseline (geometric mean of process medians): above 1 is slower
    ci_low: float
    ci_high: float
    threshold: float  # the smallest change asked about, as a fraction (0.05 is 5%)
    noise: float | None  # the learned run-to-run noise floor, a fraction; None: not learned
    processes: tuple[int, int]  # (baseline, current) processes the interval rests on
    unit: str = "processes"
    relative: bool = False  # compared as benchmark / reference: the machine's drift cancelled
    interleaved: bool = False  # both sides measured in the same minutes (A/B): no noise floor

    @property
    def change_percent(self) -> float:
        return (self.ratio - 1) * 100

    @property
    def floor(self) -> float:
        """The change a verdict must clear (see `verdict_floor`)."""
        return verdict_floor(self.threshold, self.noise, self.interleaved)

    @property
    def interval(self) -> str:
        return f"[{_change(self.ci_low - 1)}..{_change(self.ci_high - 1)}]"

    @property
    def why(self) -> str:
        """What decided the verdict, in words."""
        if self.verdict == UNKNOWN:
            if max(self.processes) < 2:
                one = {"processes": "process", "rounds": "round"}.get(self.unit, self.unit)
                return f"one {one} a side: no spread to judge by"
            b, c = self.processes
            return f"{b} against {c} {self.unit}: too few for a 95% interval"
        threshold = fmt_percent(self.threshold, None)
        noise_floor = fmt_percent(self.noise, None)
        noise = "noise not learned" if self.noise is None else f"noise ±{noise_floor}"
        if self.interleaved:
            bound = f"the {threshold} threshold"
        elif self.noise is None:
            bound = f"twice the {threshold} threshold (noise not learned yet)"
        elif self.noise > self.threshold:
            bound = f"noise ±{noise_floor}"
        else:
            bound = f"the {threshold} threshold ({noise})"
        if self.verdict in (SLOWER, FASTER):
            return f"beyond {bound}"
        if self.verdict == SAME:
            return f"within {bound}"
        return f"the interval crosses {bound}: more processes would tell"

    @property
    def text(self) -> str:
        """One line: "slower: +14% [+11..+17], beyond noise ±3.0%"."""
        if self.verdict == UNKNOWN:
            return f"unknown: {_change(self.ratio - 1)}%, {self.why}"
        against = "; against the machine's speed" if self.relative else ""
        return f"{self.verdict}: {_change(self.ratio - 1)}% {self.interval}, {self.why}{against}"


def verdict_floor(threshold: float, noise: float | None, interleaved: bool = False) -> float:
    """The change a verdict must clear: the threshold or the learned noise, whichever is
    larger. Until the noise is learned (MIN_NOISE_RUNS runs), twice the threshold: a
    baseline of one or two runs cannot show how far whole runs drift on this machine, and
    the interval, made of processes, cannot either. An A/B run measures both sides in the
    same minutes, so it needs only the threshold."""
    if interleaved:
        return threshold
    if noise is None:
        return 2 * threshold
    return max(threshold, noise)


def group_medians(
    groups: Sequence[Sequence[float]], refs: Sequence[float] | None = None
) -> list[float]:
    """Each process's median; divided by its reference time when `refs` are given."""
    if refs is None:
        return [statistics.median(g) for g in groups if g]
    return [statistics.median(g) / r for g, r in zip(groups, refs, strict=True) if g and r > 0]


def usable_refs(groups: Sequence[Sequence[float]], refs: Sequence[float] | None) -> bool:
    return refs is not None and len(refs) == len(groups) and all(r > 0 for r in refs)


def judge(
    name: str,
    baseline: Sequence[Sequence[float]],
    current: Sequence[Sequence[float]],
    *,
    threshold: float = 0.05,
    noise: float | None = None,
    confidence: float = 0.95,
    unit: str = "processes",
    refs: tuple[Sequence[float], Sequence[float]] | None = None,
    interleaved: bool = False,
) -> Verdict:
    """Compare two sets of processes' values (a list of values per process, each side).

    Each process is reduced to the log of its median; the change is the Hodges-Lehmann
    estimate (the median of all current - baseline differences) with its distribution-free
    interval from the exact Mann-Whitney distribution. Rank-based on purpose: one process
    that a neighbour stalled moves neither the estimate nor the interval much. Too few
    processes for an interval at `confidence` (one a side, or 3 against 3) is "unknown".
    `refs` (each process's reference time, per side) make it a comparison of benchmark /
    reference, which cancels the machine's drift between the two sides.
    """
    relative = refs is not None and usable_refs(baseline, refs[0]) and usable_refs(current, refs[1])
    b_refs, c_refs = refs if refs is not None and relative else (None, None)
    b = [math.log(m) for m in group_medians(baseline, b_refs) if m > 0]
    c = [math.log(m) for m in group_medians(current, c_refs) if m > 0]
    if not b or not c:
        raise ValueError(f"{name}: no values to compare")
    diffs = sorted(y - x for y in c for x in b)
    ratio = math.exp(statistics.median(diffs))
    counts = (len(b), len(c))
    k = _rank_bound(len(b), len(c), (1 - confidence) / 2)
    if k == 0:
        return Verdict(name, UNKNOWN, ratio, ratio, ratio, threshold, noise, counts, unit, relative)
    lo, hi = math.exp(diffs[k - 1]), math.exp(diffs[len(diffs) - k])
    floor = verdict_floor(threshold, noise, interleaved)
    if lo > 1 + floor:
        verdict = SLOWER
    elif hi < 1 - floor:
        verdict = FASTER
    elif lo >= 1 - floor and hi <= 1 + floor:
        verdict = SAME
    else:
        verdict = UNCLEAR
    return Verdict(
        name, verdict, ratio, lo, hi, threshold, noise, counts, unit, relative, interleaved
    )


def _rank_bound(n: int, m: int, tail: float) -> int:
    """The largest k with P(U < k) <= tail under the null (exact), 0 if there is none.

    The interval for the shift is then [d_(k), d_(nm+1-k)] over the sorted differences.
    """
    counts = mann_whitney_counts(n, m)
    total = sum(counts)
    k, below = 0, 0
    while k < len(counts) and (below + counts[k]) / total <= tail:
        below += counts[k]
        k += 1
    return k


def mann_whitney_counts(n: int, m: int) -> list[int]:
    """How many of the C(n+m, n) orderings give each U = 0..nm: the coefficients of the
    Gaussian binomial [n+m choose n]_q, built as prod (1 - q^(m+i)) / (1 - q^i)."""
    n, m = min(n, m), max(n, m)
    poly = [1] + [0] * (n * m)
    for i in range(1, n + 1):
        for u in range(len(poly) - 1, m + i - 1, -1):  # times (1 - q^(m+i))
            poly[u] -= poly[u - m - i]
        for u in range(i, len(poly)):  # divided by (1 - q^i)
            poly[u] += poly[u - i]
    return poly


def noise_floor(run_medians: Sequence[float]) -> float | None:
    """The run-to-run noise of one benchmark on this machine, as a fraction; None if unknown.

    Three robust standard deviations (1.4826 x the median absolute deviation) of the logs of
    the last `NOISE_RUNS` runs' medians: an unchanged rerun stays within it nearly always,
    and the median absolute deviation ignores the odd run that had a real change. Needs
    `MIN_NOISE_RUNS` runs.
    """
    recent = [math.log(m) for m in run_medians[-NOISE_RUNS:] if m > 0]
    if len(recent) < MIN_NOISE_RUNS:
        return None
    mid = statistics.median(recent)
    sigma = 1.4826 * statistics.median(abs(x - mid) for x in recent)
    return math.exp(3 * sigma) - 1


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
    and a single run's luck cannot trigger it. None when there is not enough history. Here
    the runs are the units, so a rank test over their medians is sound.
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
