"""Rules: small classes, each with an id, a description and `check(window)`.

A rule returns a `Finding`, several (one per cache or pool), or None. It says nothing when
the window is too short to judge or the figures it needs are not there: silence is the
answer to "I cannot tell". Every finding carries the measured figures it rests on and, for
an estimate, how the estimate was made.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from tui_perf.advice.settings import AdviceSettings
from tui_perf.advice.window import CacheDelta, Window, cache_delta, rising_share, slope_per_s
from tui_perf.model.advice import Action, CurveStat, Finding
from tui_perf.model.format import fmt_bytes, fmt_seconds

Result = Finding | Iterable[Finding] | None
MIB = 1024 * 1024


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _pts(x: float) -> str:
    return f"{100 * x:+.1f} points"


class Rule:
    """Subclass and set `id` and `description`; `check` reads `self.settings`."""

    id: str = ""
    description: str = ""

    def __init__(self, settings: AdviceSettings | None = None) -> None:
        self.settings = settings or AdviceSettings()

    def check(self, window: Window) -> Result:  # pragma: no cover - the interface
        raise NotImplementedError

    def judgeable(self, window: Window) -> bool:
        s = self.settings
        return window.long_enough(s.min_window_s, s.min_snapshots)


# -- caches ---------------------------------------------------------------------------------


def _confidence(curve: CurveStat, measured: float) -> tuple[str, float | None]:
    """How far the curve's own prediction at the current size is from the measured hit
    rate: the check every size estimate is read against."""
    here = dict(curve.points).get(curve.current_size)
    if here is None:
        return "low", None
    off = abs(here - measured)
    if off <= 0.02 and curve.sampled >= 2000:
        return "high", here
    if off <= 0.05:
        return "medium", here
    return "low", here


def _method(curve: CurveStat, here: float | None, measured: float) -> str:
    check = (
        f"; it predicts {_pct(here)} at the current size against {_pct(measured)} measured"
        if here is not None
        else ""
    )
    return (
        f"SHARDS reuse distances (Waldspurger et al., FAST 2015): {curve.sampled:,} of "
        f"{curve.references:,} lookups sampled at rate {curve.rate:.3g}{check}"
    )


class CacheTooSmall(Rule):
    id = "cache-too-small"
    description = "a cache evicts keys that come back: a larger size would hit more"

    def check(self, window: Window) -> Result:
        if not self.judgeable(window):
            return None
        s = self.settings
        budget = window.last.memory.budget
        out = []
        for name, curve in window.curves.items():
            delta = cache_delta(window.caches(name))
            if delta is None or delta.lookups < s.min_lookups or delta.evictions == 0:
                continue
            measured = delta.l1_hit_rate or 0.0
            confidence, here = _confidence(curve, measured)
            base = here if here is not None else measured
            cap = None
            if budget and curve.bytes_per_entry:
                cap = int(budget * s.max_cache_share / curve.bytes_per_entry)
            bigger = [
                (size, rate)
                for size, rate in curve.points
                if size > curve.current_size and (cap is None or size <= cap)
            ]
            if not bigger:
                continue
            best = max(rate for _, rate in bigger)
            if best - base < s.min_gain:
                continue
            target = base + s.gain_share * (best - base)
            size, rate = next((sz, r) for sz, r in bigger if r >= target)
            more = ""
            if curve.bytes_per_entry:
                more = (
                    f", about {fmt_bytes((size - curve.current_size) * curve.bytes_per_entry)} more"
                )
            beyond_cap = cap is not None and any(sz > cap for sz, _ in curve.points)
            capped = f" (the memory budget caps it at {cap:,} entries)" if beyond_cap else ""
            out.append(
                Finding(
                    self.id,
                    "warning",
                    f"cache {name} is too small: {curve.current_size:,} -> {size:,} entries "
                    f"would hit {_pts(rate - base)}",
                    (
                        ("hit rate, memory tier (measured)", _pct(measured)),
                        ("lookups", f"{delta.lookups:,}"),
                        ("evictions", f"{delta.evictions:,}"),
                        ("size", f"{delta.size:,} of {curve.current_size:,}"),
                        (
                            "predicted (LRU)",
                            " · ".join(f"{100 * r:.0f}% at {sz:,}" for sz, r in curve.points),
                        ),
                    ),
                    window.describe(),
                    Action.of("set_cache_size", name=name, maxsize=size),
                    f"hit rate {_pct(base)} -> {_pct(rate)} at {size:,} entries{more}{capped}",
                    _method(curve, here, measured),
                    confidence,
                    name,
                )
            )
        return out


class CacheNotPaying(Rule):
    id = "cache-not-paying"
    description = "a cache whose lookups cost more than its hits save"

    def check(self, window: Window) -> Result:
        if not self.judgeable(window):
            return None
        s = self.settings
        out = []
        for snap_cache in window.last.caches:
            name = snap_cache.name
            delta = cache_delta(window.caches(name))
            if delta is None or delta.lookups < s.min_lookups:
                continue
            found = (
                self._weighed(name, delta, window)
                if delta.computes
                else self._by_hit_rate(name, delta, window)
            )
            if found is not None:
                out.append(found)
        return out

    def _weighed(self, name: str, delta: CacheDelta, window: Window) -> Finding | None:
        """The function's own time and the miss path's overhead, measured by `cached`:
        hits save a computation each, less a hit's cost; misses cost their overhead."""
        s = self.settings
        mean = delta.compute_s / delta.computes
        saved = delta.hits * (mean - s.hit_cost_s)
        net = saved - delta.miss_overhead_s
        if net > 0:
            return None
        per_s = -net / window.duration_s if window.duration_s else 0.0
        overhead = delta.miss_overhead_s / delta.computes
        return Finding(
            self.id,
            "info",
            f"cache {name} costs more than it saves: its function takes "
            f"{fmt_seconds(mean)} and {_pct(delta.hit_rate or 0.0)} of calls hit",
            (
                ("hit rate (measured)", _pct(delta.hit_rate or 0.0)),
                ("lookups", f"{delta.lookups:,}"),
                ("function's own time, mean", fmt_seconds(mean)),
                ("miss path beyond it, mean", fmt_seconds(overhead)),
                ("saved by hits", fmt_seconds(max(0.0, saved))),
                ("spent on misses", fmt_seconds(delta.miss_overhead_s)),
            ),
            window.describe(),
            None,
            f"calling the function directly saves about {fmt_seconds(per_s)} a second",
            "the function's time and the miss path's time measured by @cached on each of "
            f"{delta.computes:,} misses; a hit counted at {fmt_seconds(s.hit_cost_s)} (the "
            "@cached hit path in benchmarks/results/cache.json)",
            "high" if delta.computes >= 100 else "medium",
            name,
        )

    def _by_hit_rate(self, name: str, delta: CacheDelta, window: Window) -> Finding | None:
        """No timings (a cache used directly, not through `cached`): a hit rate near zero
        that no size would lift."""
        s = self.settings
        measured = delta.hit_rate or 0.0
        if measured >= s.low_hit_rate:
            return None
        curve = window.curves.get(name)
        best = max((r for _, r in curve.points), default=0.0) if curve else None
        if best is not None and best >= s.low_hit_rate:
            return None  # a larger size would pay: cache-too-small says so
        reach = (
            f"; even {curve.points[-1][0]:,} entries would reach only {_pct(best or 0.0)}"
            if curve and curve.points
            else ""
        )
        return Finding(
            self.id,
            "info",
            f"cache {name} hits {_pct(measured)} of {delta.lookups:,} lookups{reach}",
            (
                ("hit rate (measured)", _pct(measured)),
                ("lookups", f"{delta.lookups:,}"),
                ("hits", f"{delta.hits:,}"),
            ),
            window.describe(),
            None,
            "each lookup builds a key and stores a value that is rarely read again; "
            "calling the function directly saves that",
            "hit rate measured over the window"
            + (" and the predicted curve" if curve else " (no key-stream sample)")
            + "; the function's own time is not measured (the cache is not used through "
            "@cached), so the saving is not estimated",
            "medium" if curve else "low",
            name,
        )


class TtlTooShort(Rule):
    id = "ttl-too-short"
    description = "entries expire and are asked for again: a longer TTL would hit more"

    def check(self, window: Window) -> Result:
        if not self.judgeable(window):
            return None
        s = self.settings
        out = []
        for name, curve in window.curves.items():
            delta = cache_delta(window.caches(name))
            if delta is None or delta.lookups < s.min_lookups or not curve.ttl_s:
                continue
            if delta.expirations < s.expiring_share * delta.lookups:
                continue
            now = dict(curve.longer_ttl).get(curve.ttl_s)
            if now is None:
                continue
            better = [
                (t, r) for t, r in curve.longer_ttl if t > curve.ttl_s and r - now >= s.min_gain
            ]
            if not better:
                continue
            ttl, rate = better[0]
            out.append(
                Finding(
                    self.id,
                    "warning",
                    f"cache {name}: entries expire after {curve.ttl_s:g} s and come back; "
                    f"{ttl:g} s would hit {_pts(rate - now)}",
                    (
                        ("hit rate, memory tier (measured)", _pct(delta.l1_hit_rate or 0.0)),
                        ("expirations", f"{delta.expirations:,}"),
                        ("lookups", f"{delta.lookups:,}"),
                        *((f"simulated at ttl {t:g} s", _pct(r)) for t, r in curve.longer_ttl),
                    ),
                    window.describe(),
                    Action.of("set_cache_ttl", name=name, ttl=ttl),
                    f"hit rate {_pct(now)} -> {_pct(rate)} with ttl {ttl:g} s, at the same size",
                    f"the sampled key stream ({curve.sampled:,} lookups) replayed through "
                    "cachetools TTLCaches scaled to the sample (miniature simulation); "
                    "values served up to the longer TTL old",
                    "medium",
                    name,
                )
            )
        return out


# -- garbage collection ---------------------------------------------------------------------


class GcTimeShare(Rule):
    id = "gc-time-share"
    description = "collections take a large share of wall time"

    def check(self, window: Window) -> Result:
        if not self.judgeable(window):
            return None
        s = self.settings
        shares = [snap.gc.gc_time_fraction for snap in window.snapshots if snap.gc is not None]
        gc = window.last.gc
        if len(shares) < s.min_snapshots or gc is None:
            return None
        share = sum(shares) / len(shares)
        if share < s.gc_share_warning or gc.strategy == "throughput":
            return None
        saving = share * (1 - s.throughput_pause_ratio)
        return Finding(
            self.id,
            "critical" if share >= s.gc_share_critical else "warning",
            f"garbage collection takes {_pct(share)} of wall time",
            (
                ("GC time share (mean)", _pct(share)),
                ("strategy", gc.strategy + (" (adaptive)" if gc.adaptive else "")),
                ("pause p95", f"{gc.pause_p95_ms:.1f} ms"),
                ("pause max", f"{gc.pause_max_ms:.1f} ms"),
            ),
            window.describe(),
            Action.of("set_gc_strategy", name="throughput"),
            f"about {_pct(saving)} of wall time back",
            f"GC time measured by the pause callback over the window, times (1 - "
            f"{s.throughput_pause_ratio:g}): the throughput strategy's pause time over the "
            "default's in benchmarks/results/gc.json (the worse of its two workloads)",
            "medium",
        )


class GcLongPauses(Rule):
    id = "gc-long-pauses"
    description = "long full collections over a large long-lived heap: freeze after warm-up"

    def check(self, window: Window) -> Result:
        if not self.judgeable(window):
            return None
        gc = window.last.gc
        first = window.first.gc
        if gc is None or first is None or gc.frozen or len(gc.collections) < 3:
            return None
        full = gc.collections[2] - first.collections[2]
        if full < 1 or gc.pause_max_ms < self.settings.long_pause_ms:
            return None
        return Finding(
            self.id,
            "warning",
            f"full collections pause up to {gc.pause_max_ms:.0f} ms and nothing is frozen",
            (
                ("pause max", f"{gc.pause_max_ms:.1f} ms"),
                ("pause p99", f"{gc.pause_p99_ms:.1f} ms"),
                ("full collections", f"{full:,}"),
                ("frozen objects", "0"),
            ),
            window.describe(),
            Action.of("gc_freeze"),
            "full collections skip what is frozen: their pauses shrink by about the share "
            "of the heap that is long-lived",
            "not measured before the change: freeze once warm-up is over, then compare the "
            "pause figures (the tuner does this by itself)",
            "low",
        )


# -- memory ---------------------------------------------------------------------------------


class LeakSuspect(Rule):
    id = "leak-suspect"
    description = "RSS climbs steadily and the cleanup ladder frees little"

    def check(self, window: Window) -> Result:
        s = self.settings
        if not window.long_enough(s.leak_min_window_s, s.min_snapshots):
            return None
        points = [(snap.timestamp, float(snap.memory.rss)) for snap in window.snapshots]
        slope = slope_per_s(points)
        rising = rising_share([y for _, y in points])
        if slope < s.rss_growth_per_s or rising < s.rss_rising_share:
            return None
        grown = points[-1][1] - points[0][1]
        if grown <= 0 or max_drawdown([y for _, y in points]) > s.leak_max_drawdown * grown:
            return None  # it gives memory back: a sawtooth or batches, not a leak
        freed = sum(
            max(0, c.rss_before - c.rss_after) for snap in window.snapshots for c in snap.cleanups
        )
        if grown > 0 and freed >= grown / 2:
            return None  # the ladder keeps up: pressure, not a leak
        evidence = [
            ("RSS growth", f"{fmt_bytes(int(slope * 60))}/min"),
            ("rising steps", _pct(rising)),
            ("grown over the window", fmt_bytes(int(grown))),
            ("freed by cleanups", fmt_bytes(freed)),
        ]
        growing = _growing_types(window)
        evidence += [(f"cyclic garbage: {t}", f"{n:+,}") for t, n in growing[:3]]
        alloc = window.last.profile.alloc if window.last.profile else None
        if alloc is not None:
            evidence += [
                (f"allocation growth: {a.file}:{a.line}", fmt_bytes(a.size_diff))
                for a in alloc.growth[:3]
            ]
        estimate = ""
        thresholds = window.last.thresholds
        rss = points[-1][1]
        ahead = [t for t in thresholds if t > rss]
        if ahead:
            minutes = (ahead[0] - rss) / slope / 60
            when = f"about {minutes:.0f} min" if minutes >= 1 else "under a minute"
            estimate = f"at this rate the next memory tier in {when}"
        critical = window.last.tier in ("HIGH", "CRITICAL")
        return Finding(
            self.id,
            "critical" if critical else "warning",
            f"RSS climbs {fmt_bytes(int(slope * 60))}/min and cleanups free little",
            tuple(evidence),
            window.describe(),
            None if alloc is not None else Action.of("alloc_start"),
            estimate,
            "least-squares slope of RSS over the window; cleanups' freed bytes measured "
            "before and after each"
            + ("" if alloc is not None else "; trace allocations to see the growing lines"),
            "medium" if rising >= 0.9 else "low",
        )


def max_drawdown(values: list[float]) -> float:
    """The largest fall from a running peak."""
    peak, worst = float("-inf"), 0.0
    for v in values:
        peak = max(peak, v)
        worst = max(worst, peak - v)
    return worst


def _growing_types(window: Window) -> list[tuple[str, int]]:
    a = window.first.gc
    b = window.last.gc
    if a is None or b is None or not b.census:
        return []
    before = dict(a.census)
    grown = [(t, n - before.get(t, 0)) for t, n in b.census]
    return sorted([g for g in grown if g[1] > 0], key=lambda g: -g[1])


# -- pools ----------------------------------------------------------------------------------


class PoolWaits(Rule):
    id = "pool-waits"
    description = "requests wait for a free object: the pool is too small"

    def check(self, window: Window) -> Result:
        if not self.judgeable(window):
            return None
        out = []
        for pool in window.last.pools:
            series = window.pools(pool.name)
            waits = pool.waits - series[0].waits
            if waits <= 0 or pool.wait_p95_ms < self.settings.pool_wait_p95_ms:
                continue
            if pool.max_size is None:
                continue
            size = pool.max_size * 2
            out.append(
                Finding(
                    self.id,
                    "warning",
                    f"pool {pool.name}: requests wait {pool.wait_p95_ms:.0f} ms at p95 "
                    f"for one of {pool.max_size}",
                    (
                        ("wait p95", f"{pool.wait_p95_ms:.1f} ms"),
                        ("waits", f"{waits:,} of {pool.requests - series[0].requests:,} requests"),
                        ("in use (last)", f"{pool.in_use} of {pool.max_size}"),
                        ("timeouts", f"{pool.timeouts - series[0].timeouts:,}"),
                    ),
                    window.describe(),
                    Action.of("resize_pool", name=pool.name, max_size=size),
                    f"max_size {pool.max_size} -> {size}: waits end if demand stays under "
                    f"{size} at once",
                    "waits and their p95 counted by the pool; the effect is not predicted "
                    "beyond that (the tuner measures it)",
                    "low",
                    pool.name,
                )
            )
        return out


class PoolIdle(Rule):
    id = "pool-idle"
    description = "a pool keeps idle objects while nobody asks for one"

    def check(self, window: Window) -> Result:
        """Idle most of the time means no requests in most intervals: a pool's in-use count
        read once a second misses checkouts shorter than that, so it cannot say how many
        objects a busy pool needs at once."""
        if not self.judgeable(window):
            return None
        s = self.settings
        out = []
        for pool in window.last.pools:
            series = window.pools(pool.name)
            if len(series) < s.min_snapshots or pool.idle < s.pool_min_idle:
                continue
            steps = list(pairwise(series))
            quiet = sum(1 for a, b in steps if b.requests == a.requests)
            if quiet < s.pool_idle_share * len(steps):
                continue
            peak = max(p.in_use for p in series)
            keep = max(1, peak)
            if keep >= pool.idle:
                continue
            requests = series[-1].requests - series[0].requests
            out.append(
                Finding(
                    self.id,
                    "info",
                    f"pool {pool.name} keeps {pool.idle} idle and is asked for one in "
                    f"{len(steps) - quiet} of {len(steps)} seconds",
                    (
                        ("idle (last)", str(pool.idle)),
                        ("requests in the window", f"{requests:,}"),
                        ("intervals with no request", f"{quiet} of {len(steps)}"),
                        ("in use, peak seen", str(peak)),
                    ),
                    window.describe(),
                    Action.of("set_pool_idle", name=pool.name, max_idle=keep),
                    f"{pool.idle - keep} fewer idle objects held; a burst past {keep} makes "
                    "new ones",
                    "requests counted by the pool between snapshots",
                    "medium",
                    pool.name,
                )
            )
        return out


class PoolLeaks(Rule):
    id = "pool-leaks"
    description = "objects taken from a pool and never given back"

    def check(self, window: Window) -> Result:
        out = []
        for pool in window.last.pools:
            series = window.pools(pool.name)
            new_leaks = pool.leaks - series[0].leaks if len(series) > 1 else pool.leaks
            if new_leaks <= 0 and pool.overdue <= 0:
                continue
            out.append(
                Finding(
                    self.id,
                    "warning",
                    f"pool {pool.name}: {pool.leaks} leaked, {pool.overdue} overdue",
                    (
                        ("leaked (total)", str(pool.leaks)),
                        ("overdue now", str(pool.overdue)),
                        ("where", pool.reason or "unknown"),
                    ),
                    window.describe(),
                    None,
                    "each leaked object is one the pool must make again",
                    "counted by the pool: a leak is an object collected while checked out, "
                    "overdue a lease older than leak_after",
                    "high",
                    pool.name,
                )
            )
        return out


BUILTIN: tuple[type[Rule], ...] = (
    CacheTooSmall,
    CacheNotPaying,
    TtlTooShort,
    GcTimeShare,
    GcLongPauses,
    LeakSuspect,
    PoolWaits,
    PoolIdle,
    PoolLeaks,
)


def builtin_rules(settings: AdviceSettings | None = None) -> list[Rule]:
    return [cls(settings) for cls in BUILTIN]
