"""`Engine`: wires the sampler, the registry, the memory guard and the GC controller.

`tick()` makes one `Snapshot`; given its injected clock and probes it is deterministic, which
is what lets tests script memory, GC and cache behaviour exactly. `start()` runs ticks on a
daemon thread; subscribers get every snapshot on that thread.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tui_perf.engine import builtin_commands as _builtin_commands  # registers the engine's own
from tui_perf.engine.commands import COMMANDS, CommandRegistry
from tui_perf.engine.foreign_caches import ForeignCaches
from tui_perf.engine.gc_control import GCConfig, GCController
from tui_perf.engine.gc_readings import read_gc_stats
from tui_perf.engine.memory import GuardConfig, MemoryGuard, Tier
from tui_perf.engine.registry import REGISTRY, Registry
from tui_perf.engine.sampler import Clock, Sampler, cgroup_memory_limit
from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import CleanupReport, Event, GCStats, Snapshot

log = logging.getLogger(__name__)

Subscriber = Callable[[Snapshot], None]
#: a capability's part of each snapshot: Snapshot field names to values
Section = Callable[[], dict[str, Any]]
T = TypeVar("T")

del _builtin_commands  # imported for its registrations only


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
    #: show the program's own functools.lru_cache (and cachetools @cached(info=True))
    #: caches beside ours, rediscovered every this many seconds; None: off
    discover_caches_s: float | None = 30.0
    guard: GuardConfig = field(default_factory=GuardConfig)
    gc: GCConfig = field(default_factory=GCConfig)
    #: the tuner (`tui_perf.tune`): on from the start, and its profile: a shipped or
    #: user profile's name, a TOML file's path, or "auto" (chosen from the machine)
    tune: bool = False
    profile: str = "auto"
    #: the advice capability's key-stream samplers (the caches' curves), all together, in
    #: MiB: past it the largest shrink and the quietest are dropped (reported in `advice`)
    sampler_budget_mib: float = 8.0

    def __post_init__(self) -> None:
        if not self.interval > 0:
            raise ConfigError(f"interval must be above 0 seconds, got {self.interval}")
        if not self.sampler_budget_mib > 0:
            raise ConfigError(f"sampler_budget_mib must be above 0, got {self.sampler_budget_mib}")
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
        commands: CommandRegistry | None = None,
    ) -> None:
        self.config = config or EngineConfig()
        self.commands = commands if commands is not None else COMMANDS
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
        # The program's own lru_caches: in its own process, for the engine over the
        # process-wide registry (an engine given a registry of its own, as tests do, keeps
        # to what it was given).
        self._foreign: ForeignCaches | None = None
        every = self.config.discover_caches_s
        if self.local and every is not None and self.registry is REGISTRY:
            self._foreign = ForeignCaches(interval=every, clock=clock)
        self._installed_gc = False
        self._extensions: dict[str, Any] = {}
        self._sections: list[Section] = []
        self._extension_lock = threading.Lock()
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

    # -- capabilities ------------------------------------------------------------------

    def extension(self, key: str, factory: Callable[[Engine], T]) -> T:
        """A capability's state on this engine, made by `factory(engine)` on first use."""
        with self._extension_lock:
            if key not in self._extensions:
                self._extensions[key] = factory(self)
            state: T = self._extensions[key]
            return state

    def add_section(self, section: Section) -> None:
        """Call `section()` at every tick; the fields it returns go into the snapshot."""
        # A list swap, not a lock: factories call this from inside `extension`'s lock.
        self._sections = [*self._sections, section]

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
        if self._foreign is not None:
            try:
                caches = caches + self._foreign.stats()
            except Exception:
                log.exception("reading the program's own caches failed")
        pools = self.registry.pool_stats()
        events, cleanups = self._take_pending()
        extra: dict[str, Any] = {}
        for section in tuple(self._sections):
            try:
                extra.update(section())
            except Exception:
                log.exception("snapshot section %r failed", section)
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
            thresholds=self.guard.thresholds(),
            **extra,
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
        """Run a named command from `self.commands`; returns a JSON-ready result.

        Raises `ConfigError` for an unknown name or arguments that break its declaration.
        """
        return self.commands.run(self, command, args)

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
