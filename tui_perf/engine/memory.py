"""`MemoryGuard`: memory pressure tiers and the emergency cleanup ladder.

The tier comes from RSS against a budget, with hysteresis: a tier rises as soon as RSS
crosses its threshold but drops only once RSS is a margin below it, so a process hovering at
a threshold does not flap.

The ladder is a list of rungs, cheapest and most effective first. Each rung is a plain
callable that frees what it can and says what it freed; the guard measures RSS around every
rung, so the report shows what each one really gave back. The automatic ladder climbs only
while the tier stays at or above `auto_tier` and stops as soon as RSS is back under it.
`emergency_cleanup()` runs every rung now, whatever the tier.

RSS often stays high after objects are freed (the allocator keeps the pages); the guard must
not fire the ladder on every tick because of that. Each automatic run is followed by
`cooldown_s`; after a second run in a row that did not bring the tier down the wait doubles,
and keeps doubling (up to `max_cooldown_s`) until a run helps. Two exceptions: a climb to a
higher tier than the last run met runs at once, and at CRITICAL the wait never doubles.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import gc
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from tui_perf.engine.registry import REGISTRY, Registry
from tui_perf.engine.sampler import Clock
from tui_perf.model.errors import ConfigError
from tui_perf.model.format import fmt_bytes
from tui_perf.model.snapshot import CleanupReport, RungReport

log = logging.getLogger(__name__)

MiB = 1024 * 1024


class Tier(IntEnum):
    NORMAL = 0
    ELEVATED = 1
    HIGH = 2
    CRITICAL = 3


@dataclass(frozen=True, slots=True)
class Freed:
    """What a rung freed: an amount, its unit ("bytes", "objects", "entries"), a word of what."""

    amount: int
    unit: str = "objects"
    detail: str = ""


#: A reclaimer whose effect is RSS itself returns this unit; the guard fills in the bytes.
RSS_MEASURED = "rss"

#: What a reclaimer may return: a `Freed`, or a plain count of objects.
Reclaimed = Freed | int
Reclaimer = Callable[[], Reclaimed]


@dataclass(frozen=True, slots=True)
class GuardConfig:
    """Thresholds and timing as data.

    Thresholds are fractions of the budget, or absolute MiB when `thresholds_mib` is set.
    """

    fractions: tuple[float, float, float] = (0.70, 0.85, 0.95)
    thresholds_mib: tuple[float, float, float] | None = None
    #: how far below a threshold RSS must fall before its tier is left (fraction of budget)
    hysteresis: float = 0.05
    #: the automatic ladder runs at this tier and above; None turns it off
    auto_tier: Tier | None = Tier.HIGH
    cooldown_s: float = 30.0
    max_cooldown_s: float = 600.0
    #: a full collection that found fewer objects than this is skipped on the next run
    gc_skip_below: int = 100
    #: malloc_trim walks the whole heap: at most once per this many seconds
    trim_interval_s: float = 5.0

    def __post_init__(self) -> None:
        values = self.thresholds_mib if self.thresholds_mib is not None else self.fractions
        if not (0 < values[0] < values[1] < values[2]):
            raise ConfigError(f"tier thresholds must rise strictly from above 0, got {values}")
        if self.thresholds_mib is None and values[2] > 1.5:
            raise ConfigError(
                f"threshold fractions look like MiB ({values}); "
                "use thresholds_mib for absolute sizes"
            )
        if not 0 <= self.hysteresis < 0.5:
            raise ConfigError(f"hysteresis must be in [0, 0.5), got {self.hysteresis}")
        if self.cooldown_s < 0 or self.max_cooldown_s < self.cooldown_s:
            raise ConfigError("cooldown_s must be >= 0 and max_cooldown_s >= cooldown_s")


@dataclass(slots=True)
class _Rung:
    name: str
    reclaim: Reclaimer
    min_tier: Tier
    order: int


def live_types(top: int = 3, limit: int = 2_000_000) -> tuple[tuple[str, int], ...]:
    """The most numerous types among the objects the collector tracks (at most `limit`
    looked at): what holds memory that no cleanup can free while it is referenced. Only
    containers are tracked (a dict or tuple holding only atoms is not), so this names the
    structures, not every string in them."""
    counts: Counter[str] = Counter()
    for n, obj in enumerate(gc.get_objects()):
        if n >= limit:
            break
        counts[type(obj).__qualname__] += 1
    return tuple(counts.most_common(top))


class MemoryGuard:
    """Tiers from RSS, and the ladder of reclaimers that brings RSS down."""

    def __init__(
        self,
        budget: int,
        config: GuardConfig | None = None,
        *,
        rss: Callable[[], int],
        registry: Registry | None = None,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        builtin_rungs: bool = True,
    ) -> None:
        if budget <= 0:
            raise ConfigError(f"the memory budget must be above 0 bytes, got {budget}")
        self.budget = budget
        self.config = config or GuardConfig()
        self._thresholds: tuple[GuardConfig, int, tuple[int, int, int]] | None = None
        self._rss = rss
        self.registry = registry if registry is not None else REGISTRY
        self._clock = clock
        self._wall = wall
        self.tier = Tier.NORMAL
        self._rungs: list[_Rung] = []
        self._lock = threading.RLock()
        self._last_auto: float | None = None
        self._last_auto_tier: Tier | None = None  # the tier the last automatic run met
        self._ineffective_runs = 0
        self._skip_gc_next = False
        self._last_trim: float | None = None
        self.reports: list[CleanupReport] = []
        #: set by the engine: where events and cleanup reports go
        self.emit: Callable[[str, str, str], object] = lambda kind, msg, level: None
        self.on_cleanup: Callable[[CleanupReport], object] = lambda report: None
        if builtin_rungs:
            self.register("flush caches", self._flush_caches, min_tier=Tier.ELEVATED, order=10)
            self.register("full collection", self._collect, min_tier=Tier.HIGH, order=20)
            self.register("drain pools", self._drain_pools, min_tier=Tier.HIGH, order=30)
            self.register("malloc_trim", self._malloc_trim, min_tier=Tier.HIGH, order=50)

    # -- thresholds and tiers ----------------------------------------------------------

    def thresholds(self) -> tuple[int, int, int]:
        """RSS in bytes at which ELEVATED, HIGH and CRITICAL begin."""
        c, budget = self.config, self.budget
        known = self._thresholds
        # worked out again only when the config or the budget is replaced: a tick asks often
        if known is not None and known[0] is c and known[1] == budget:
            return known[2]
        if c.thresholds_mib is not None:
            e, h, cr = (int(x * MiB) for x in c.thresholds_mib)
        else:
            e, h, cr = (int(x * budget) for x in c.fractions)
        self._thresholds = (c, budget, (e, h, cr))
        return e, h, cr

    def threshold(self, tier: Tier) -> int:
        return 0 if tier is Tier.NORMAL else self.thresholds()[tier - 1]

    def tier_for(self, rss: int, current: Tier = Tier.NORMAL) -> Tier:
        """The tier for `rss` starting from `current`: up at once, down past the margin."""
        margin = int(self.config.hysteresis * self.budget)
        starts = (0, *self.thresholds())  # where each tier begins, by its number
        tier = int(current)
        while tier < Tier.CRITICAL and rss >= starts[tier + 1]:
            tier += 1
        while tier > Tier.NORMAL and rss < starts[tier] - margin:
            tier -= 1
        return current if tier == current else Tier(tier)  # Tier(n) costs: only on a change

    def observe(self, rss: int) -> Tier:
        """Feed one RSS reading: update the tier (an event on change), maybe run the ladder."""
        with self._lock:
            self._move_tier(rss)
            auto = self.config.auto_tier
            # A climb to a higher tier than the last run met does not wait out a cooldown
            # that runs at the lower tier earned (the demo sat at CRITICAL for 76 s so).
            climbed = self._last_auto_tier is not None and self.tier > self._last_auto_tier
            if auto is not None and self.tier >= auto and (climbed or self._cooled_down()):
                self._run(trigger="auto", full=False, rss_now=rss)
            return self.tier

    def _move_tier(self, rss: int, cause: str = "") -> None:
        """Set the tier for `rss`; every change, whoever caused it, is an event."""
        new = self.tier_for(rss, self.tier)
        if new is not self.tier:
            level = "warning" if new > self.tier else "info"
            why = f" ({cause})" if cause else ""
            self.emit("tier", f"{self.tier.name} -> {new.name} at RSS {fmt_bytes(rss)}{why}", level)
            self.tier = new

    def cooldown_remaining(self) -> float:
        if self._last_auto is None:
            return 0.0
        # The first wait is the configured cooldown; each further miss doubles it, except at
        # CRITICAL, where waiting longer is the thing that must not happen.
        doublings = 0 if self.tier is Tier.CRITICAL else max(0, self._ineffective_runs - 1)
        wait = min(self.config.cooldown_s * float(2**doublings), self.config.max_cooldown_s)
        return max(0.0, self._last_auto + wait - self._clock())

    def _cooled_down(self) -> bool:
        return self.cooldown_remaining() == 0.0

    # -- the ladder --------------------------------------------------------------------

    def register(
        self, name: str, reclaim: Reclaimer, *, min_tier: Tier = Tier.HIGH, order: int = 100
    ) -> None:
        """Add a rung. Lower `order` runs first; in automatic runs it needs `min_tier`."""
        with self._lock:
            self._rungs = [r for r in self._rungs if r.name != name]
            self._rungs.append(_Rung(name, reclaim, min_tier, order))
            self._rungs.sort(key=lambda r: r.order)

    def unregister(self, name: str) -> None:
        with self._lock:
            self._rungs = [r for r in self._rungs if r.name != name]

    @property
    def rung_names(self) -> list[str]:
        return [r.name for r in self._rungs]

    def emergency_cleanup(self) -> CleanupReport:
        """Run every rung now, whatever the tier; the report measures each one."""
        with self._lock:
            return self._run(trigger="manual", full=True, rss_now=self._rss())

    def _run(self, *, trigger: str, full: bool, rss_now: int) -> CleanupReport:
        started = self._clock()
        tier_before = self.tier
        goal = self.config.auto_tier if self.config.auto_tier is not None else Tier.HIGH
        reports: list[RungReport] = []
        rss = rss_now
        for rung in list(self._rungs):
            if not full:
                if self.tier < goal:
                    break  # back under the target tier: stop climbing
                if self.tier < rung.min_tier:
                    continue
            before = rss
            t0 = self._clock()
            skipped = ""
            try:
                freed = _as_freed(rung.reclaim())
            except _Skip as skip:
                freed, skipped = Freed(0, "objects", ""), str(skip)
            except Exception as exc:  # a user's reclaimer failing must not stop the ladder
                log.warning("reclaimer %r failed", rung.name, exc_info=True)
                freed, skipped = Freed(0, "objects", ""), f"failed: {exc}"
            duration = self._clock() - t0
            rss = self._rss()
            if freed.unit == RSS_MEASURED:
                freed = Freed(max(0, before - rss), "bytes", freed.detail)
            reports.append(
                RungReport(
                    rung.name,
                    before,
                    rss,
                    freed.amount,
                    freed.unit,
                    freed.detail,
                    duration,
                    skipped,
                )
            )
            self._move_tier(rss, f"after the cleanup rung {rung.name!r}")
        report = CleanupReport(
            timestamp=self._wall(),
            trigger=trigger,
            tier_before=tier_before.name,
            tier_after=self.tier.name,
            rss_before=rss_now,
            rss_after=rss,
            duration_s=self._clock() - started,
            rungs=tuple(reports),
        )
        if trigger == "manual" and report.rss_released <= 0:
            # Say where the memory is, rather than a bare "none": a person asked.
            report = dataclasses.replace(report, held_by=live_types())
        if trigger == "auto":
            self._last_auto = self._clock()
            self._last_auto_tier = tier_before
            brought_down = self.tier < goal
            self._ineffective_runs = 0 if brought_down else min(self._ineffective_runs + 1, 16)
        self.reports.append(report)
        del self.reports[:-32]
        self.emit(
            "cleanup",
            f"{trigger} cleanup: RSS {fmt_bytes(rss_now)} -> {fmt_bytes(rss)} "
            f"({fmt_bytes(rss_now - rss)} released) in {report.duration_s * 1000:.0f} ms",
            "info" if trigger == "manual" else "warning",
        )
        self.on_cleanup(report)
        return report

    # -- built-in rungs ----------------------------------------------------------------

    def _flush_caches(self) -> Freed:
        dropped, flushed = 0, 0
        for cache in self.registry.caches():
            if cache.pinned:
                continue  # pinned caches hold what the program cannot do without
            dropped += cache.flush_memory()
            flushed += 1
        return Freed(dropped, "entries", f"from {flushed} caches")

    def _collect(self) -> Freed:
        if self._skip_gc_next:
            self._skip_gc_next = False
            raise _Skip("the last full collection found almost nothing")
        collected = gc.collect()
        self._skip_gc_next = collected < self.config.gc_skip_below
        return Freed(collected, "objects", "unreachable objects collected")

    def _drain_pools(self) -> Freed:
        drained, pools = 0, 0
        for pool in self.registry.pools():
            drained += pool.drain()
            pools += 1
        return Freed(drained, "objects", f"idle objects from {pools} pools")

    def _malloc_trim(self) -> Freed:
        trim = _malloc_trim_function()
        if trim is None:
            raise _Skip("no malloc_trim here (not glibc)")
        now = self._clock()
        if self._last_trim is not None and now - self._last_trim < self.config.trim_interval_s:
            raise _Skip(f"ran {now - self._last_trim:.0f} s ago")
        self._last_trim = now
        trim(0)
        # What malloc_trim frees is exactly RSS given back: let the guard's own measurement
        # around this rung be the figure, rather than a second reading that could differ.
        return Freed(0, RSS_MEASURED, "returned to the OS by malloc")


class _Skip(Exception):
    """A rung that decided not to run this time; the message says why."""


def _as_freed(value: Reclaimed) -> Freed:
    if isinstance(value, Freed):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Freed(value)
    raise TypeError(f"a reclaimer must return Freed or int, not {type(value).__name__}")


_TRIM: list[Callable[[int], int] | None] = []


def _malloc_trim_function() -> Callable[[int], int] | None:
    """glibc's malloc_trim, found once; None on other C libraries and platforms."""
    if not _TRIM:
        fn = None
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                fn = libc.malloc_trim
                fn.argtypes = [ctypes.c_size_t]
                fn.restype = ctypes.c_int
            except (OSError, AttributeError):
                fn = None
        _TRIM.append(fn)
    return _TRIM[0]
