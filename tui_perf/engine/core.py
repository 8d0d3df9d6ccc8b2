"""`Engine`: wires the sampler, the registry, the memory guard and the GC controller.

`tick()` makes one `Snapshot`; given its injected clock and probes it is deterministic, which
is what lets tests script memory, GC and cache behaviour exactly. `start()` runs ticks on a
daemon thread; subscribers get every snapshot on that thread.
"""

from __future__ import annotations

import dataclasses
import gc
import inspect
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tui_perf.engine.gc_control import GCConfig, GCController, read_gc_stats
from tui_perf.engine.memory import GuardConfig, MemoryGuard, Tier
from tui_perf.engine.registry import REGISTRY, Registry
from tui_perf.engine.sampler import Clock, Sampler, cgroup_memory_limit
from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import (
    BenchProgress,
    BenchResult,
    CleanupReport,
    Event,
    GCStats,
    Snapshot,
    to_dict,
)

log = logging.getLogger(__name__)

Subscriber = Callable[[Snapshot], None]


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Engine settings as data. Sizes in MiB where a person types them."""

    interval: float = 1.0
    #: seconds between USS/PSS readings; None leaves that costly probe off
    full_info_interval: float | None = None
    tracemalloc: bool = False
    #: the memory budget; None means the cgroup limit, else a fraction of physical memory
    budget_mib: float | None = None
    budget_fraction_of_ram: float = 0.5
    max_events: int = 1000
    guard: GuardConfig = field(default_factory=GuardConfig)
    gc: GCConfig = field(default_factory=GCConfig)

    def __post_init__(self) -> None:
        if not self.interval > 0:
            raise ConfigError(f"interval must be above 0 seconds, got {self.interval}")
        if self.budget_mib is not None and not self.budget_mib > 0:
            raise ConfigError(f"budget_mib must be above 0, got {self.budget_mib}")
        if not 0 < self.budget_fraction_of_ram <= 1:
            raise ConfigError(
                f"budget_fraction_of_ram must be in (0, 1], got {self.budget_fraction_of_ram}"
            )


def default_budget(config: EngineConfig) -> int:
    """The memory budget in bytes: configured, else the cgroup limit, else a share of RAM."""
    if config.budget_mib is not None:
        return int(config.budget_mib * 1024 * 1024)
    limit = cgroup_memory_limit()
    if limit is not None:
        return limit
    import psutil

    return int(psutil.virtual_memory().total * config.budget_fraction_of_ram)


class Engine:
    """One process's watcher: `tick()` makes a `Snapshot`; `start()` ticks on a thread."""

    def __init__(
        self,
        config: EngineConfig | None = None,
        *,
        sampler: Sampler | None = None,
        registry: Registry | None = None,
        guard: MemoryGuard | None = None,
        gc_controller: GCController | None = None,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
    ) -> None:
        self.config = config or EngineConfig()
        self.clock = clock
        self.wall = wall
        self.registry = registry if registry is not None else REGISTRY
        if sampler is None:
            sampler = Sampler(
                clock=clock,
                wall=wall,
                full_info_interval=self.config.full_info_interval,
                tracemalloc_enabled=self.config.tracemalloc,
                budget=default_budget(self.config),
            )
        self.sampler = sampler
        self._pid = os.getpid()
        #: False when watching another process: its interpreter and heap are out of reach
        self.local = sampler.probe.pid == self._pid
        if guard is None:
            budget = sampler.budget if sampler.budget else default_budget(self.config)
            guard_config = self.config.guard
            if not self.local:  # tiers only: the ladder would act on this process, not that
                guard_config = dataclasses.replace(guard_config, auto_tier=None)
            guard = MemoryGuard(
                budget,
                guard_config,
                rss=lambda: self.sampler.probe.read().rss,
                registry=self.registry,
                clock=clock,
                wall=wall,
                builtin_rungs=self.local,
            )
        self.guard = guard
        self.gc_controller = gc_controller or (GCController(self.config.gc) if self.local else None)
        self._installed_gc = False
        self._bench_results: list[BenchResult] = []
        self._bench_progress: BenchProgress | None = None
        self._bench_previous: dict[str, list[float]] = {}
        self._bench_lock = threading.Lock()
        self.guard.emit = self.emit
        self.guard.on_cleanup = self.add_cleanup
        if self.gc_controller is not None:
            self.gc_controller.emit = self.emit
        self._seq = 0
        self._events: deque[Event] = deque(maxlen=self.config.max_events)
        self._cleanups: deque[CleanupReport] = deque(maxlen=16)
        self._pending_lock = threading.Lock()
        self._latest: Snapshot | None = None
        self._subscribers: list[Subscriber] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- events ------------------------------------------------------------------------

    def emit(self, kind: str, message: str, level: str = "info") -> Event:
        """Record an event; it goes out with the next snapshot. Safe from any thread."""
        event = Event(self.wall(), kind, message, level)
        with self._pending_lock:
            self._events.append(event)
        return event

    def add_cleanup(self, report: CleanupReport) -> None:
        with self._pending_lock:
            self._cleanups.append(report)

    def _take_pending(self) -> tuple[tuple[Event, ...], tuple[CleanupReport, ...]]:
        with self._pending_lock:
            events, cleanups = tuple(self._events), tuple(self._cleanups)
            self._events.clear()
            self._cleanups.clear()
        return events, cleanups

    # -- ticking -----------------------------------------------------------------------

    def tick(self) -> Snapshot:
        """Sample everything once and return the snapshot (also kept as `snapshot()`)."""
        memory = self.sampler.sample()
        tier = self.guard.observe(memory.rss).name
        gc_stats: GCStats | None = None
        if self.gc_controller is not None:
            self.gc_controller.on_tier(tier)
            gc_stats = self.gc_controller.stats()
        elif self.local:
            gc_stats = read_gc_stats()
        caches = self.registry.cache_stats()
        pools = self.registry.pool_stats()
        events, cleanups = self._take_pending()
        with self._pending_lock:
            bench, self._bench_results = tuple(self._bench_results), []
        self._seq += 1
        snap = Snapshot(
            timestamp=memory.timestamp,
            pid=self.sampler.probe.pid,
            seq=self._seq,
            memory=memory,
            gc=gc_stats,
            tier=tier,
            caches=caches,
            pools=pools,
            events=events,
            cleanups=cleanups,
            bench=bench,
            thresholds=self.guard.thresholds(),
            bench_progress=self._bench_progress,
        )
        self._latest = snap
        for subscriber in list(self._subscribers):
            try:
                subscriber(snap)
            except Exception:
                log.exception("snapshot subscriber %r failed", subscriber)
        return snap

    def snapshot(self) -> Snapshot | None:
        """The latest snapshot, or None before the first tick."""
        return self._latest

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(snapshot)` after every tick; returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def start(self) -> None:
        """Tick every `config.interval` seconds on a daemon thread until `stop()`.

        Also installs the GC controller (pause measurement, the configured strategy) if it
        is not installed yet; `stop()` uninstalls what `start()` installed.
        """
        if self._thread is not None and self._thread.is_alive():
            return
        if self.gc_controller is not None and not self.gc_controller.installed:
            self.gc_controller.install()
            self._installed_gc = True
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tui-perf-engine", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._installed_gc and self.gc_controller is not None:
            self.gc_controller.uninstall()
            self._installed_gc = False

    # -- commands (keys in the dashboard, messages from the agent) --------------------

    def command(self, command: str, /, **args: Any) -> dict[str, Any]:
        """Run a named command; returns a JSON-ready result. Raises `ConfigError` on bad input.

        emergency_cleanup, gc_collect, set_gc_strategy(name), next_gc_strategy,
        set_adaptive(on), flush_cache(name=None), census(limit=15).
        """
        handler = _COMMANDS.get(command)
        if handler is None:
            raise ConfigError(f"unknown command {command!r}; one of {', '.join(sorted(_COMMANDS))}")
        if not self.local:
            raise ConfigError(f"{command} needs the agent inside the target process")
        try:
            inspect.signature(handler).bind(self, **args)
        except TypeError as exc:
            raise ConfigError(f"{command}: {exc}") from None
        result: dict[str, Any] = handler(self, **args)
        return result

    def _cmd_emergency_cleanup(self) -> dict[str, Any]:
        return to_dict(self.guard.emergency_cleanup())

    def _cmd_gc_collect(self, generation: int = 2) -> dict[str, Any]:
        if generation not in (0, 1, 2):
            raise ConfigError(f"generation must be 0, 1 or 2, got {generation!r}")
        t0 = time.perf_counter()
        collected = gc.collect(generation)
        ms = (time.perf_counter() - t0) * 1000
        self.emit(
            "gc", f"collection of generation {generation}: {collected} objects in {ms:.1f} ms"
        )
        return {"collected": collected, "duration_ms": ms}

    def _manual(self) -> GCController:
        """A strategy chosen by hand wins: adaptive mode would undo it at the next tick."""
        assert self.gc_controller is not None
        if self.gc_controller.adaptive:
            self.gc_controller.set_adaptive(False)
        return self.gc_controller

    def _cmd_set_gc_strategy(self, name: str) -> dict[str, Any]:
        controller = self._manual()
        controller.set_strategy(name, reason="by hand")
        return {"strategy": controller.strategy, "adaptive": False}

    def _cmd_next_gc_strategy(self) -> dict[str, Any]:
        return {"strategy": self._manual().next_strategy(), "adaptive": False}

    def _cmd_set_adaptive(self, on: bool) -> dict[str, Any]:
        assert self.gc_controller is not None
        if not isinstance(on, bool):
            raise ConfigError(f"on must be true or false, got {on!r}")
        self.gc_controller.set_adaptive(on)
        if on:
            self.gc_controller.on_tier(self.guard.tier.name)
        return {"adaptive": on, "strategy": self.gc_controller.strategy}

    def _cmd_flush_cache(self, name: str | None = None) -> dict[str, Any]:
        caches = [c for c in self.registry.caches() if name is None or c.name == name]
        if name is not None and not caches:
            raise ConfigError(f"no cache named {name!r}")
        dropped = sum(c.flush_memory() for c in caches if name is not None or not c.pinned)
        self.emit("cache", f"flushed {dropped} entries from {len(caches)} caches")
        return {"dropped": dropped, "caches": len(caches)}

    def _cmd_run_benchmarks(self, quick: bool = True, filter: str | None = None) -> dict[str, Any]:
        """Run the built-in suite here; results and verdicts ride on the next snapshot."""
        from tui_perf.bench.compare import compare_values
        from tui_perf.bench.runner import RunConfig, run_benchmarks
        from tui_perf.bench.suite import builtin

        if not self._bench_lock.acquire(blocking=False):
            raise ConfigError("a benchmark run is already under way")
        try:
            benches = [b for b in builtin() if filter is None or filter in b.name]
            if not benches:
                raise ConfigError(f"no built-in benchmark matches {filter!r}")
            config = RunConfig.quick() if quick else RunConfig()
            total = len(benches) * config.values
            finished: dict[str, int] = {}

            def progress(name: str, i: int, n: int) -> None:
                finished[name] = i
                self._bench_progress = BenchProgress(name, sum(finished.values()), total)

            self._bench_progress = BenchProgress(benches[0].name, 0, total)
            runs = run_benchmarks(benches, config, progress=progress)
            results = []
            for run in runs:
                if run.error:
                    self.emit("bench", f"{run.name} failed: {run.error}", "error")
                    continue
                s = run.summary
                verdict = ""
                before = self._bench_previous.get(run.name)
                if before is not None:
                    v = compare_values(run.name, before, run.values, with_ci=False)
                    verdict = f"{v.verdict} {v.change_percent:+.1f}%"
                self._bench_previous[run.name] = run.values
                results.append(
                    BenchResult(
                        run.name,
                        run.group,
                        tuple(run.values),
                        run.loops,
                        s.median,
                        s.stdev,
                        verdict,
                    )
                )
            slower = [r.name for r in results if r.verdict.startswith("slower")]
            self.emit(
                "bench",
                f"benchmark run: {len(results)} done"
                + (f", slower: {', '.join(slower)}" if slower else ""),
                "warning" if slower else "info",
            )
            with self._pending_lock:
                self._bench_results.extend(results)
            return {"results": [to_dict(r) for r in results]}
        finally:
            self._bench_progress = None
            self._bench_lock.release()

    def _cmd_census(self, limit: int = 15) -> dict[str, Any]:
        assert self.gc_controller is not None
        return {"census": [list(x) for x in self.gc_controller.census(limit)]}

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def tier(self) -> Tier:
        return self.guard.tier

    def _run(self) -> None:
        interval = self.config.interval
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                # The engine thread lives in the user's process: it logs and carries on.
                log.exception("engine tick failed")
            next_at += interval
            delay = next_at - time.monotonic()
            if delay < 0:  # a slow tick stretches the interval instead of piling up
                next_at = time.monotonic()
                delay = 0
            self._stop.wait(delay)


_COMMANDS: dict[str, Any] = {
    "emergency_cleanup": Engine._cmd_emergency_cleanup,
    "gc_collect": Engine._cmd_gc_collect,
    "set_gc_strategy": Engine._cmd_set_gc_strategy,
    "next_gc_strategy": Engine._cmd_next_gc_strategy,
    "set_adaptive": Engine._cmd_set_adaptive,
    "flush_cache": Engine._cmd_flush_cache,
    "census": Engine._cmd_census,
    "run_benchmarks": Engine._cmd_run_benchmarks,
}
