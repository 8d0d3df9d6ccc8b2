"""`GCController`: GC strategies, adaptive switching by memory tier, and measured pauses.

Pauses come from `gc.callbacks`: the callback does two `perf_counter_ns()` calls and writes
into preallocated arrays (a ring buffer), with a re-entry guard; nothing that allocates much.
Statistics are computed when asked, on the engine's thread, never in the callback.

Strategies are relative to the thresholds the program had when the first controller was
installed, because the interpreter's own defaults differ (700 up to 3.12, 2000 from 3.13).
The thresholds are process-wide, so they have one owner per process (`THRESHOLDS`): every
controller (the agent's, any `Engine`'s) joins it and reads the same base, so strategies
never compound; when the last one leaves, the program's thresholds come back, unless the
program changed them itself since (then they are left alone and that is logged).

Lowering thresholds saves almost no memory (reference counting already frees acyclic
garbage) and makes full-heap scans frequent exactly when the heap is largest, so `strict` is
never the answer to CRITICAL: the cleanup ladder is. Adaptive mode maps tiers to strategies
as configuration: NORMAL -> throughput, ELEVATED -> balanced, HIGH/CRITICAL -> default.
"""

from __future__ import annotations

import gc
import logging
import sys
import sysconfig
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tui_perf.engine.gc_readings import (
    GCCounters,
    cyclic_garbage_census,
    gc_counters,
    read_gc_stats,
)
from tui_perf.engine.gc_turns import PauseTurns, generation_means
from tui_perf.model.errors import ConfigError
from tui_perf.model.quantiles import nearest_rank
from tui_perf.model.snapshot import GCStats

RING = 4096

log = logging.getLogger(__name__)

#: cyclic_garbage_census is read from here by callers that predate gc_readings.py
__all__ = [
    "DEFAULT_ADAPTIVE",
    "RING",
    "STRATEGIES",
    "STRATEGY_ORDER",
    "THRESHOLDS",
    "GCConfig",
    "GCController",
    "GCStrategy",
    "Runtime",
    "ThresholdOwner",
    "cyclic_garbage_census",
]


@dataclass(frozen=True, slots=True)
class Runtime:
    """The interpreter facts strategies depend on; tests inject other versions."""

    version: tuple[int, int, int]
    free_threaded: bool

    @classmethod
    def current(cls) -> Runtime:
        v = sys.version_info
        return cls((v.major, v.minor, v.micro), bool(sysconfig.get_config_var("Py_GIL_DISABLED")))

    @property
    def incremental_gc(self) -> bool:
        """3.14.0-3.14.4 collect incrementally: threshold2 is ignored, gen 1 does not exist."""
        return (3, 14, 0) <= self.version <= (3, 14, 4)


@dataclass(frozen=True, slots=True)
class GCStrategy:
    """Thresholds as multiples of the start-up ones, and whether to freeze after warm-up."""

    name: str
    factors: tuple[float, float, float]
    description: str = ""

    def thresholds(self, base: tuple[int, int, int], runtime: Runtime) -> tuple[int, int, int]:
        values = [max(1, round(b * f)) for b, f in zip(base, self.factors, strict=True)]
        if runtime.free_threaded:
            # The free-threaded collector stops the world: never make it run more often.
            values = [max(v, b) for v, b in zip(values, base, strict=True)]
        if runtime.incremental_gc:
            values[2] = base[2]  # ignored by the incremental collector: leave it alone
        return values[0], values[1], values[2]


STRATEGIES: dict[str, GCStrategy] = {
    s.name: s
    for s in (
        GCStrategy(
            "throughput",
            (70.0, 1.0, 1.0),
            description="young collections ~70x rarer: less time in GC, same heap",
        ),
        GCStrategy("balanced", (10.0, 1.0, 1.0), description="young collections 10x rarer"),
        GCStrategy("default", (1.0, 1.0, 1.0), description="the interpreter's own thresholds"),
        GCStrategy(
            "strict",
            (0.5, 1.0, 1.0),
            description="young collections twice as often (saves little memory)",
        ),
    )
}
STRATEGY_ORDER = ("throughput", "balanced", "default", "strict")

DEFAULT_ADAPTIVE: Mapping[str, str] = {
    "NORMAL": "throughput",
    "ELEVATED": "balanced",
    "HIGH": "default",
    "CRITICAL": "default",
}


@dataclass(frozen=True, slots=True)
class GCConfig:
    strategy: str = "default"
    adaptive: bool = False
    adaptive_map: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ADAPTIVE))
    #: the window over which the GC time fraction and pause percentiles are computed
    window_s: float = 60.0
    #: time every collection through `gc.callbacks` (about 1 µs each); off: no pause figures,
    #: for allocation-heavy hosts where that is too much
    measure_pauses: bool = True
    #: above this many collections a second, pauses are timed in turns: `timed_share` of
    #: the time, the rest estimated from the exact counts (see gc_turns.py); None: always
    timed_turns_above: float | None = 2000.0
    timed_share: float = 0.2

    def __post_init__(self) -> None:
        for name in (self.strategy, *self.adaptive_map.values()):
            if name not in STRATEGIES:
                raise ConfigError(f"unknown GC strategy {name!r}; one of {', '.join(STRATEGIES)}")
        if self.window_s <= 0:
            raise ConfigError(f"window_s must be above 0, got {self.window_s}")
        if not 0 < self.timed_share <= 1:
            raise ConfigError(f"timed_share must be above 0 and at most 1, got {self.timed_share}")


class ThresholdOwner:
    """The one owner of this process's GC thresholds, shared by every `GCController`.

    The base is what the program had when the first controller joined; a strategy is
    applied relative to it (so two controllers never multiply each other's factors). When
    a controller leaves, the most recent remaining one's strategy is applied again; when
    the last leaves, the base is restored, unless the thresholds are no longer the ones we
    set (the program changed them itself): those are left as they are.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders: list[GCController] = []
        self.base: tuple[int, int, int] = _threshold3()
        self._applied: tuple[int, ...] | None = None

    def join(self, controller: GCController) -> tuple[int, int, int]:
        with self._lock:
            if not self._holders:
                self.base = _threshold3()
                self._applied = None
            self._holders.append(controller)
            return self.base

    def apply(self, thresholds: tuple[int, int, int]) -> None:
        with self._lock:
            current = gc.get_threshold()
            gc.set_threshold(*thresholds[: max(1, len(current))])
            self._applied = tuple(gc.get_threshold())

    def leave(self, controller: GCController) -> str:
        """Drop `controller`; returns a message when the program's own change was kept."""
        with self._lock:
            if controller in self._holders:
                self._holders.remove(controller)
            if self._holders:
                heir = self._holders[-1]
                t = STRATEGIES[heir.strategy].thresholds(self.base, heir.runtime)
                current = gc.get_threshold()
                gc.set_threshold(*t[: max(1, len(current))])
                self._applied = tuple(gc.get_threshold())
                return ""
            now: tuple[int, ...] = tuple(gc.get_threshold())
            if self._applied is not None and now != self._applied:
                self._applied = None
                return (
                    f"GC thresholds {now} were set by the program since tui-perf set "
                    "its own; left as they are"
                )
            gc.set_threshold(*self.base[: max(1, len(now))])
            self._applied = None
            return ""

    @property
    def holders(self) -> int:
        return len(self._holders)


class GCController:
    """Installs the pause callback, applies strategies, reports `GCStats`."""

    def __init__(
        self,
        config: GCConfig | None = None,
        *,
        runtime: Runtime | None = None,
        clock_ns: Callable[[], int] = time.perf_counter_ns,
        owner: ThresholdOwner | None = None,
    ) -> None:
        self.config = config or GCConfig()
        self._owner = owner if owner is not None else THRESHOLDS
        self.runtime = runtime or Runtime.current()
        self._clock_ns = clock_ns
        self.strategy = self.config.strategy
        self.adaptive = self.config.adaptive
        self.installed = False
        self.base_thresholds: tuple[int, int, int] = _threshold3()
        # The freeze count right after our own `gc.freeze()`, or None: we undo a freeze only
        # while the count has not grown past it (see `unfreeze`).
        self._frozen_count: int | None = None
        # The ring buffer: start and end of each pause, and the generation collected.
        self._ends = array("q", bytes(8 * RING))
        self._durations = array("q", bytes(8 * RING))
        self._generations = array("b", bytes(RING))
        self._n = 0
        self._total_ns = 0  # every pause since install: differences give any interval's share
        self._totals: deque[tuple[int, int]] = deque()  # (clock, _total_ns) at each stats()
        self._t0 = -1  # -1: no collection under way
        # what stats() worked out last, while nothing it depends on has changed (see there)
        self._summary: tuple[int, int, int, list[int]] | None = None
        self._gc_counters: tuple[int, GCCounters] | None = None
        self.turns = PauseTurns(self.config.timed_turns_above, self.config.timed_share)
        self._stats_lock = threading.Lock()
        self._means: tuple[int, list[float]] | None = None  # (_n, per generation) for turns
        #: tier -> strategy when adaptive; a tuning profile may replace entries at run time
        self.adaptive_map: dict[str, str] = dict(self.config.adaptive_map)
        self.last_census: tuple[tuple[str, int], ...] = ()
        self.emit: Callable[[str, str, str], object] = lambda kind, msg, level: None

    # -- installing --------------------------------------------------------------------

    def install(self) -> None:
        """Read the current thresholds as the base, hook the callback, apply the strategy."""
        if self.installed:
            return
        self.base_thresholds = self._owner.join(self)
        if self.config.measure_pauses:
            gc.callbacks.append(self._callback)
        self._gc_counters = None
        self.installed = True
        self._apply(self.strategy)

    def uninstall(self) -> None:
        """Remove the callback and leave the thresholds' owner (see `ThresholdOwner.leave`)."""
        if not self.installed:
            return
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        self.turns.resting_until = None  # installed again, it times from the start
        kept = self._owner.leave(self)
        if kept:
            log.info("%s", kept)
            self.emit("gc", kept, "warning")
        self.unfreeze()
        self.installed = False

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        # Runs twice inside every collection, so it is kept to two clock reads and a few
        # array writes (2 µs a collection mostly goes to CPython calling it at all).
        # Re-entry guard: `_t0` is -1 outside a pause; a "start" while a pause is open (a
        # nested or repeated callback) is ignored, and every "stop" closes the pause.
        if phase == "start":
            if self._t0 < 0:
                self._t0 = self._clock_ns()
            return
        t0 = self._t0
        if t0 < 0:
            return
        end = self._clock_ns()
        i = self._n % RING
        self._ends[i] = end
        self._durations[i] = end - t0
        self._generations[i] = info.get("generation", 0)
        self._total_ns += end - t0
        self._n += 1
        self._t0 = -1

    # -- strategies --------------------------------------------------------------------

    def set_strategy(self, name: str, *, reason: str = "") -> None:
        if name not in STRATEGIES:
            raise ConfigError(f"unknown GC strategy {name!r}; one of {', '.join(STRATEGIES)}")
        if name == self.strategy:
            return
        old, self.strategy = self.strategy, name
        if self.installed:
            self._apply(name)
        t = STRATEGIES[name].thresholds(self.base_thresholds, self.runtime)
        why = f" ({reason})" if reason else ""
        self.emit("gc", f"GC strategy {old} -> {name}{why}: thresholds {t}", "info")

    def next_strategy(self) -> str:
        """Cycle to the next strategy (the dashboard's `s`); returns its name."""
        i = STRATEGY_ORDER.index(self.strategy)
        self.set_strategy(STRATEGY_ORDER[(i + 1) % len(STRATEGY_ORDER)], reason="by hand")
        return self.strategy

    def set_adaptive(self, on: bool) -> None:
        if on != self.adaptive:
            self.adaptive = on
            self.emit("gc", f"adaptive GC {'on' if on else 'off'}", "info")

    def on_tier(self, tier_name: str) -> None:
        """Follow the memory tier when adaptive."""
        if self.adaptive:
            target = self.adaptive_map.get(tier_name)
            if target is not None and target != self.strategy:
                self.set_strategy(target, reason=f"tier {tier_name}")

    def freeze_after_warmup(self) -> int:
        """Call once start-up is over: collect, then freeze what survived.

        Freezing moves every live object out of the collector's reach, so later full
        collections skip the start-up heap (the optional half of `throughput`). The collect
        comes first so that no garbage is frozen. `unfreeze()` (and `uninstall()`) undo it.
        Returns how many objects are frozen. Refused with `ConfigError` when the program
        froze objects itself: the freeze is then the program's (a pre-fork server's
        copy-on-write heap), and ours could not be undone without undoing its.
        """
        count = gc.get_freeze_count()
        if count and self._frozen_count is None:
            raise ConfigError(
                f"the program froze {count:,} objects itself; tui-perf leaves its freeze alone"
            )
        gc.collect()
        gc.freeze()
        count = gc.get_freeze_count()
        self._frozen_count = count
        self.emit("gc", f"froze {count} start-up objects out of the collector's reach", "info")
        return count

    def unfreeze(self) -> int:
        """Undo our own freeze; returns how many objects went back to the collector.

        `gc.unfreeze()` thaws the whole process. We call it only if we froze and the count
        has not grown since (frozen objects may die, so it may have shrunk): a larger count
        means the program froze too, and its freeze is left as it is, ours with it.
        """
        ours, self._frozen_count = self._frozen_count, None
        now = gc.get_freeze_count()
        if ours is None or now > ours:
            if ours is not None:
                self.emit("gc", f"the program froze since: {now:,} objects left frozen", "info")
            return 0
        gc.unfreeze()
        return now

    def _apply(self, name: str) -> None:
        self._owner.apply(STRATEGIES[name].thresholds(self.base_thresholds, self.runtime))

    # -- statistics --------------------------------------------------------------------

    def pauses_ns(self, window_s: float | None = None) -> list[int]:
        """Pause durations (ns) whose collections ended within the window, oldest first."""
        n = self._n
        count = min(n, RING)
        if window_s is None:
            return [self._durations[(n - count + k) % RING] for k in range(count)]
        # Pauses end in ring order, so walk back from the newest and stop at the first one
        # older than the window: the cost is the pauses in the window, not the whole ring.
        since = self._clock_ns() - int(window_s * 1e9)
        ends, durations = self._ends, self._durations
        found: list[int] = []
        for k in range(n - 1, n - count - 1, -1):
            i = k % RING
            if ends[i] < since:
                break
            found.append(durations[i])
        found.reverse()
        return found

    def _pause_summary(self, window_ns: int, now: int) -> tuple[int, list[int]]:
        """(pauses seen, the window's pauses sorted), worked out again only after a new
        collection or once the oldest pause in the window has left it."""
        n = self._n
        cached = self._summary
        if cached is not None and cached[:2] == (n, window_ns) and now < cached[2]:
            return n, cached[3]
        pauses = sorted(self.pauses_ns(window_ns / 1e9))
        until = sys.maxsize
        if pauses:  # the oldest pause in the window ends it; it is the first in ring order
            until = self._ends[(n - len(pauses)) % RING] + window_ns
        self._summary = (n, window_ns, until, pauses)
        return n, pauses

    def _counters(self) -> GCCounters:
        """Collections, collected and uncollectable per generation. While the pause callback
        runs it sees every collection, so these change only when the count of pauses does."""
        watching = self.installed and self._callback in gc.callbacks
        cached = self._gc_counters
        if watching and cached is not None and cached[0] == self._n:
            return cached[1]
        counters = gc_counters()
        # kept only when read while watching: a reading made unwatched may miss collections
        # that come before the callback is back (an install, a turn, the program's hands)
        self._gc_counters = (self._n, counters) if watching else None
        return counters

    def _take_turns(self, now: int, collections: tuple[int, ...]) -> None:
        """Stop or start timing pauses by the collection rate (see gc_turns.py)."""
        if not (self.installed and self.config.measure_pauses):
            return
        change = self.turns.step(now, collections, self._generation_means)
        if change is False and self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
            self._gc_counters = None  # read afresh while nothing watches the collections
        elif change is True and self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)
            self._gc_counters = None

    def _generation_means(self) -> list[float]:
        cached = self._means
        if cached is None or cached[0] != self._n:  # no new pause while resting: kept
            cached = self._means = (
                self._n,
                generation_means(self._durations, self._generations, self._n),
            )
        return cached[1]

    def stats(self) -> GCStats:
        """The interpreter's counters plus what the controller knows: strategy, pauses.

        Safe from any thread: the engine's tick and a command may ask at once, and the
        readings, the turns and the running totals are kept between calls."""
        with self._stats_lock:
            window = self.config.window_s
            window_ns = int(window * 1e9)
            now = self._clock_ns()
            collections, collected, uncollectable = self._counters()
            turns = self.turns
            if now >= turns.next_ns:  # a span may close: checked here, a call less a tick
                self._take_turns(now, collections)
            n, pauses = self._pause_summary(window_ns, now)
            fraction = sum(pauses) / (window * 1e9)
            timed_share = turns.timed_share(now, window_ns) if turns.untimed_spans else 1.0
            # The ring keeps the last RING pauses: a program collecting more often than that
            # per window would be under-counted. The running total, read at each call, gives
            # the exact share since the oldest reading still inside the window; it includes
            # the estimated time of collections made while pauses were not timed.
            total = self._total_ns + self.turns.estimated_ns
            self._totals.append((now, total))
            while len(self._totals) > 2 and now - self._totals[1][0] >= window * 1e9:
                self._totals.popleft()
            t_old, total_old = self._totals[0]
            if (n > RING or timed_share < 1) and now > t_old:
                fraction = (total - total_old) / (now - t_old)
            return read_gc_stats(
                strategy=self.strategy,
                adaptive=self.adaptive,
                pauses=n,
                pause_p50_ms=nearest_rank(pauses, 50) / 1e6,
                pause_p95_ms=nearest_rank(pauses, 95) / 1e6,
                pause_p99_ms=nearest_rank(pauses, 99) / 1e6,
                pause_max_ms=(pauses[-1] if pauses else 0) / 1e6,
                gc_time_fraction=min(1.0, fraction),
                pause_total_s=total / 1e9,
                pauses_timed_share=timed_share,
                census=self.last_census,
                counters=(collections, collected, uncollectable),
            )

    def census(self, limit: int = 15) -> tuple[tuple[str, int], ...]:
        """Run `cyclic_garbage_census` and keep the result for the next `stats()`."""
        self.last_census = cyclic_garbage_census(limit)
        return self.last_census


def _threshold3() -> tuple[int, int, int]:
    t = gc.get_threshold()
    padded = (*t, *([0] * (3 - len(t))))
    return padded[0], padded[1], padded[2]


#: This process's one owner of the GC thresholds.
THRESHOLDS = ThresholdOwner()
