"""`Window`: the snapshots a rule reads, oldest first, with the caches' predicted curves, and
the small measurements every rule needs (counter deltas, rates, a slope).

Lookups by name go through one index per snapshot (`SnapshotIndex`, a dict a list), made
once: scanning each snapshot's list for each name made a rules check quadratic in the
caches watched (3.3 s at 1,000). `AdviceState` keeps each snapshot's index from one check
to the next, so a check indexes only the snapshots that arrived since.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from types import MappingProxyType
from typing import Any

from tui_perf.model.advice import CurveStat
from tui_perf.model.snapshot import CacheStats, PoolStats, Snapshot


class SnapshotIndex:
    """One snapshot's caches and pools by name (the first of a name, as a scan finds it),
    each dict made on its first use: a check reads the first and last snapshots' caches,
    so most snapshots never pay for (or hold) one. Not frozen: a cache of its snapshot,
    read on the engine's thread or a command's; two threads making one make the same."""

    __slots__ = ("_caches", "_pools", "_snap")

    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap
        self._caches: dict[str, CacheStats] | None = None
        self._pools: dict[str, PoolStats] | None = None

    @classmethod
    def of(cls, snap: Snapshot) -> SnapshotIndex:
        return cls(snap)

    @property
    def caches(self) -> Mapping[str, CacheStats]:
        if self._caches is None:
            # reversed: where two share a name, the first one listed is the one kept
            self._caches = {c.name: c for c in reversed(self._snap.caches)}
        return self._caches

    @property
    def pools(self) -> Mapping[str, PoolStats]:
        if self._pools is None:
            self._pools = {p.name: p for p in reversed(self._snap.pools)}
        return self._pools


@dataclass(frozen=True, slots=True)
class Window:
    snapshots: tuple[Snapshot, ...]
    #: cache name -> its predicted curve (only caches whose key stream is sampled)
    curves: Mapping[str, CurveStat] = field(default_factory=lambda: MappingProxyType({}))
    #: one per snapshot, in order; made on the first lookup when not given
    indexes: tuple[SnapshotIndex, ...] = field(default=(), compare=False, repr=False)

    def _indexed(self) -> tuple[SnapshotIndex, ...]:
        if len(self.indexes) != len(self.snapshots):
            object.__setattr__(self, "indexes", tuple(SnapshotIndex.of(s) for s in self.snapshots))
        return self.indexes

    @property
    def first(self) -> Snapshot:
        return self.snapshots[0]

    @property
    def last(self) -> Snapshot:
        return self.snapshots[-1]

    @property
    def duration_s(self) -> float:
        if len(self.snapshots) < 2:
            return 0.0
        return self.last.timestamp - self.first.timestamp

    def describe(self) -> str:
        """ "last 60 s (61 snapshots)": where a finding's evidence came from."""
        return f"last {self.duration_s:.0f} s ({len(self.snapshots)} snapshots)"

    def long_enough(self, seconds: float, snapshots: int) -> bool:
        return len(self.snapshots) >= snapshots and self.duration_s >= seconds

    def caches(self, name: str) -> list[CacheStats]:
        """The named cache in each snapshot that has it, oldest first."""
        return [c for i in self._indexed() if (c := i.caches.get(name)) is not None]

    def pools(self, name: str) -> list[PoolStats]:
        return [p for i in self._indexed() if (p := i.pools.get(name)) is not None]

    def cache_ends(self, name: str) -> list[CacheStats]:
        """The named cache's first and last readings in the window (one when it shows once,
        none when never): all a counter delta needs, without walking the whole window."""
        indexes = self._indexed()
        if len(indexes) > 1:  # the usual case, two lookups: there all window long
            first, last = indexes[0].caches.get(name), indexes[-1].caches.get(name)
            if first is not None and last is not None:
                return [first, last]
        return _ends(indexes, name, "caches")

    def pool_ends(self, name: str) -> list[PoolStats]:
        indexes = self._indexed()
        if len(indexes) > 1:
            first, last = indexes[0].pools.get(name), indexes[-1].pools.get(name)
            if first is not None and last is not None:
                return [first, last]
        return _ends(indexes, name, "pools")

    def cache_delta(self, name: str, min_lookups: int = 0) -> CacheDelta | None:
        """`cache_delta` over the named cache's ends; None also below `min_lookups` lookups
        in the window, found before anything else is worked out (most caches, at scale)."""
        ends = self.cache_ends(name)
        if len(ends) < 2 or ends[-1].lookups - ends[0].lookups < min_lookups:
            return None
        return cache_delta(ends)


def _ends(indexes: Sequence[SnapshotIndex], name: str, kind: str) -> list[Any]:
    # A member that came or went inside the window: walk in from either end to find it.
    n = len(indexes)
    lo = next((i for i in range(n) if name in getattr(indexes[i], kind)), None)
    if lo is None:
        return []
    hi = next(i for i in range(n - 1, lo - 1, -1) if name in getattr(indexes[i], kind))
    first = getattr(indexes[lo], kind)[name]
    return [first] if hi == lo else [first, getattr(indexes[hi], kind)[name]]


@dataclass(frozen=True, slots=True)
class CacheDelta:
    """What a cache's L1 did over the window (running counters, last minus first)."""

    lookups: int
    hits: int  # answered by any tier
    l1_hits: int  # answered by the memory tier: what its curve predicts
    evictions: int
    expirations: int
    size: int
    maxsize: int | None
    bytes: int | None
    computes: int = 0  # measured by `cached` on its misses
    compute_s: float = 0.0
    miss_overhead_s: float = 0.0

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.lookups if self.lookups else None

    @property
    def l1_hit_rate(self) -> float | None:
        return self.l1_hits / self.lookups if self.lookups else None


def cache_delta(series: Sequence[CacheStats]) -> CacheDelta | None:
    """None with fewer than two readings, or when the counters went back (a reset)."""
    if len(series) < 2 or not series[0].tiers or not series[-1].tiers:
        return None
    a, b = series[0], series[-1]
    lookups, hits = b.lookups - a.lookups, b.hits - a.hits
    la, lb = a.tiers[0], b.tiers[0]
    l1_hits = lb.hits - la.hits
    evictions, expirations = lb.evictions - la.evictions, lb.expirations - la.expirations
    if min(lookups, hits, l1_hits, evictions, expirations) < 0:
        return None
    return CacheDelta(
        lookups,
        hits,
        l1_hits,
        evictions,
        expirations,
        lb.size,
        lb.maxsize,
        lb.bytes,
        max(0, b.computes - a.computes),
        max(0.0, b.compute_s - a.compute_s),
        max(0.0, b.miss_overhead_s - a.miss_overhead_s),
    )


def slope_per_s(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y over x; 0 with fewer than two distinct x."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx <= 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def rising_share(values: Sequence[float]) -> float:
    """The share of steps that went up: near 1 for steady growth, near 0.5 for noise."""
    steps = [b - a for a, b in pairwise(values) if b != a]
    return sum(1 for s in steps if s > 0) / len(steps) if steps else 0.0
