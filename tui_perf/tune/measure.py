"""What a trial measures: the figure a change should improve, read interval by interval
from consecutive snapshots, and the before/after judgement.

Every target is expressed so that lower is better (a cache's miss ratio, the share of wall
time in GC, the share of pool requests that waited) and judged by `bench.compare.judge`,
the statistics of the benchmark verdicts: the windows are cut into groups, each group is
reduced to its median, and the change is the Hodges-Lehmann estimate with its exact
Mann-Whitney interval, kept only when the whole interval is below 1 - `min_effect`.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from tui_perf.bench.compare import Verdict, judge
from tui_perf.model.advice import Action
from tui_perf.model.format import fmt_percent
from tui_perf.model.snapshot import Snapshot

#: a share of zero has no logarithm; this is far below anything a trial could tell apart
FLOOR = 1e-6
#: each window is cut into this many groups (6 against 6 gives an exact 95% interval)
GROUPS = 6

Interval = Callable[[Snapshot, Snapshot], float | None]


@dataclass(frozen=True, slots=True)
class Target:
    name: str  # "hit rate of users"
    figure: str  # what `interval` measures, lower being better: "miss ratio"
    interval: Interval  # lower is better, per interval between two snapshots
    #: the lower-is-better figure as a person reads it ("hit rate 31.0%")
    show: Callable[[float], str]


def _cache_miss_ratio(name: str) -> Interval:
    def value(a: Snapshot, b: Snapshot) -> float | None:
        ca = next((c for c in a.caches if c.name == name), None)
        cb = next((c for c in b.caches if c.name == name), None)
        if ca is None or cb is None:
            return None
        lookups = cb.lookups - ca.lookups
        if lookups <= 0:
            return None
        hits: int = cb.hits - ca.hits
        return max(FLOOR, 1 - hits / lookups)

    return value


def _gc_share(a: Snapshot, b: Snapshot) -> float | None:
    if a.gc is None or b.gc is None or b.timestamp <= a.timestamp:
        return None
    spent = b.gc.pause_total_s - a.gc.pause_total_s
    if spent < 0:
        return None
    return max(FLOOR, spent / (b.timestamp - a.timestamp))


def _pool_wait_share(name: str) -> Interval:
    def value(a: Snapshot, b: Snapshot) -> float | None:
        pa = next((p for p in a.pools if p.name == name), None)
        pb = next((p for p in b.pools if p.name == name), None)
        if pa is None or pb is None or pb.requests <= pa.requests:
            return None
        return max(FLOOR, (pb.waits - pa.waits) / (pb.requests - pa.requests))

    return value


def target_for(action: Action) -> Target | None:
    """The figure the action should lower; None for an action the tuner does not take."""
    args = action.arguments()
    if action.command in ("set_cache_size", "set_cache_ttl"):
        name = str(args["name"])
        return Target(f"hit rate of {name}", "miss ratio", _cache_miss_ratio(name), _hit_rate)
    if action.command in ("set_gc_strategy", "gc_freeze"):
        return Target("GC time share", "GC time", _gc_share, _share("GC time"))
    if action.command == "resize_pool":
        name = str(args["name"])
        return Target(
            f"waits of pool {name}",
            "requests that waited",
            _pool_wait_share(name),
            _share("waited"),
        )
    return None


def _hit_rate(miss: float) -> str:
    return f"hit rate {fmt_percent(1 - miss)}"


def _share(what: str) -> Callable[[float], str]:
    return lambda v: f"{what} {fmt_percent(v, 2)}"


def interval_values(snaps: Sequence[Snapshot], target: Target) -> list[float]:
    out = []
    for a, b in pairwise(snaps):
        v = target.interval(a, b)
        if v is not None:
            out.append(v)
    return out


def groups(values: Sequence[float], n: int = GROUPS) -> list[list[float]]:
    """`values` cut into `n` runs of consecutive values (the last ones may be shorter)."""
    size = max(1, -(-len(values) // n))
    return [list(values[i : i + size]) for i in range(0, len(values), size)]


def compare(
    name: str, before: Sequence[float], after: Sequence[float], min_effect: float
) -> Verdict:
    """`judge` over the two windows: FASTER means the figure went down beyond noise and
    beyond `min_effect`. The windows are adjacent and equally long, so no run-to-run noise
    floor is added (as for an A/B run)."""
    return judge(
        name,
        groups(before),
        groups(after),
        threshold=min_effect,
        unit="intervals",
        interleaved=True,
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
