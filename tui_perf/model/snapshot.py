"""The data model: frozen, slotted dataclasses that cross threads, processes and files.

`Snapshot` is the one currency: the engine makes it, the agent sends it, the store keeps it
and the panes draw it. `to_dict()` / `from_dict()` carry `FORMAT_VERSION` and round-trip
exactly; `from_dict` checks every field against its annotation, so a malformed or newer
dict fails with a message naming the field instead of producing a half-built object.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from tui_perf.model.advice import AdviceStats
from tui_perf.model.decoding import decode, kind_of
from tui_perf.model.errors import SnapshotFormatError
from tui_perf.model.fastinit import fast_init
from tui_perf.model.tune import TuneStats

#: 2 added `Snapshot.profile`; a version-1 dict still reads (the field defaults to None).
#: 3 added `BenchResult.sizes` and `.refs` (per process); older dicts read with `()`.
#: 4 added `CleanupReport.held_by`; older dicts read with `()`.
#: 5 added `Snapshot.advice` and `CacheStats.computes`, `.compute_s`, `.miss_overhead_s`;
#: older dicts read with None and zeros.
#: 6 added `Snapshot.tuning` and `GCStats.pause_total_s`; older dicts read with None, 0.
#: 7 added `GCStats.pauses_timed_share`; older dicts read with 1.0 (every pause timed).
FORMAT_VERSION = 7


@fast_init
@dataclass(frozen=True, slots=True)
class MemorySample:
    """One reading of a process's memory and CPU. Sizes in bytes; None where not measured."""

    timestamp: float
    rss: int
    vms: int
    cpu_percent: float
    num_threads: int
    open_fds: int | None = None
    uss: int | None = None
    pss: int | None = None
    budget: int | None = None
    traced_current: int | None = None
    traced_peak: int | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class GCStats:
    """The garbage collector's state and what it cost over the last window."""

    enabled: bool
    counts: tuple[int, ...]
    thresholds: tuple[int, ...]
    collections: tuple[int, ...]
    collected: tuple[int, ...]
    uncollectable: tuple[int, ...]
    strategy: str = "default"
    adaptive: bool = False
    frozen: int = 0
    pauses: int = 0
    pause_p50_ms: float = 0.0
    pause_p95_ms: float = 0.0
    pause_p99_ms: float = 0.0
    pause_max_ms: float = 0.0
    gc_time_fraction: float = 0.0
    census: tuple[tuple[str, int], ...] = ()
    #: every measured pause since the controller started, in seconds: the difference
    #: between two snapshots is the GC time of that interval (with the estimated time of
    #: collections made while pauses were not timed, see `pauses_timed_share`)
    pause_total_s: float = 0.0
    #: the share of the window in which pauses were timed: below 1, the program collected
    #: so often that pauses were timed in turns, the percentiles are of the timed pauses
    #: and the GC time share includes an estimate (engine/gc_turns.py)
    pauses_timed_share: float = 1.0


@fast_init
@dataclass(frozen=True, slots=True)
class TierStats:
    """Counters of one tier (L1 memory, L2 SQLite or Redis) of one cache."""

    level: str
    kind: str
    hits: int = 0
    misses: int = 0
    sets: int = 0
    evictions: int = 0
    expirations: int = 0
    promotions: int = 0
    size: int = 0
    maxsize: int | None = None
    bytes: int | None = None
    #: "up", or "down" while an L2 tier's circuit is open after errors
    state: str = "up"
    #: failed calls into the tier (reads, writes, deletes), and the last one while down
    errors: int = 0
    reason: str = ""

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float | None:
        """Hits over lookups; None before the first lookup (not 0%: nothing was asked)."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


@fast_init
@dataclass(frozen=True, slots=True)
class CacheStats:
    """One registered cache with its tiers, L1 first."""

    name: str
    tiers: tuple[TierStats, ...]
    pinned: bool = False
    #: measured by `cached` on its misses: how many computed, their own time, and the time
    #: the miss path spent around them (key, single-flight, storing), in seconds
    computes: int = 0
    compute_s: float = 0.0
    miss_overhead_s: float = 0.0

    @property
    def hits(self) -> int:
        """Lookups answered by any tier."""
        return sum(t.hits for t in self.tiers)

    @property
    def lookups(self) -> int:
        """Lookups made by callers: every one reaches L1 first."""
        return self.tiers[0].lookups if self.tiers else 0

    @property
    def hit_rate(self) -> float | None:
        lookups = self.lookups
        return self.hits / lookups if lookups else None


@fast_init
@dataclass(frozen=True, slots=True)
class PoolStats:
    """One registered object or connection pool."""

    name: str
    kind: str
    in_use: int = 0
    idle: int = 0
    created: int = 0
    reused: int = 0
    requests: int = 0
    #: requests that had to wait for a free object (a running count, like `requests`)
    waits: int = 0
    wait_p95_ms: float = 0.0
    timeouts: int = 0
    discarded: int = 0
    leaks: int = 0
    errors: int = 0
    lost: int = 0
    max_size: int | None = None
    #: objects checked out for longer than the pool's `leak_after` (suspected leaks)
    overdue: int = 0
    healthy: bool = True
    reason: str = ""

    @property
    def reuse_rate(self) -> float | None:
        handed_out = self.created + self.reused
        return self.reused / handed_out if handed_out else None


@fast_init
@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened: a tier change, a strategy switch, a cleanup, an error."""

    timestamp: float
    kind: str
    message: str
    level: str = "info"


@fast_init
@dataclass(frozen=True, slots=True)
class RungReport:
    """What one rung of the cleanup ladder did, measured around it."""

    name: str
    rss_before: int
    rss_after: int
    freed: int
    unit: str
    detail: str
    duration_s: float
    skipped: str = ""

    @property
    def rss_released(self) -> int:
        """Bytes the process gave back to the OS during this rung (may be negative)."""
        return self.rss_before - self.rss_after


@fast_init
@dataclass(frozen=True, slots=True)
class CleanupReport:
    """One run of the emergency cleanup ladder."""

    timestamp: float
    trigger: str
    tier_before: str
    tier_after: str
    rss_before: int
    rss_after: int
    duration_s: float
    rungs: tuple[RungReport, ...] = ()
    #: when a manual run released nothing: the most numerous live object types, which is
    #: where the memory is (a run cannot free what is still referenced)
    held_by: tuple[tuple[str, int], ...] = ()

    @property
    def rss_released(self) -> int:
        return self.rss_before - self.rss_after


@fast_init
@dataclass(frozen=True, slots=True)
class BenchResult:
    """Summary of one benchmark's values in one run; raw values kept in seconds per loop."""

    name: str
    group: str
    values: tuple[float, ...]
    loops: int
    median_s: float
    stdev_s: float
    verdict: str = ""  # set by whoever judges it against a baseline (the dashboard)
    sizes: tuple[int, ...] = ()  # how many of `values` each worker process gave
    refs: tuple[float, ...] = ()  # each worker process's reference time (`bench.reference`)


@fast_init
@dataclass(frozen=True, slots=True)
class BenchProgress:
    """A benchmark run under way: which benchmark, and how far the whole run is."""

    current: str
    done: int
    total: int


@fast_init
@dataclass(frozen=True, slots=True)
class FunctionStat:
    """One function as the sampling profiler saw it: CPU seconds with it on the stack.

    `own_s` counts samples where it was the innermost frame, `total_s` samples where it
    was anywhere on the stack, counted once per sample however deep the recursion.
    """

    function: str
    file: str
    line: int
    own_s: float
    total_s: float
    own_samples: int = 0
    total_samples: int = 0


@fast_init
@dataclass(frozen=True, slots=True)
class TimingStat:
    """One `@profile` / `with profile(name)` name: calls and their durations."""

    name: str
    #: "sync" (CPU-and-wait time of the call) or "async" (wall time across awaits)
    kind: str
    calls: int
    errors: int
    cancelled: int
    total_s: float
    mean_s: float
    p50_s: float
    p95_s: float
    p99_s: float
    max_s: float
    #: memory=True only: mean net and largest peak traced bytes per call
    mem_net_mean: int | None = None
    mem_peak_max: int | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class AllocSite:
    """Traced allocations still alive from one file:line (or growth since the mark)."""

    file: str
    line: int
    size: int
    count: int
    size_diff: int = 0
    count_diff: int = 0


@fast_init
@dataclass(frozen=True, slots=True)
class AllocStats:
    """tracemalloc's top sites, and growth since the last mark when one was set."""

    traced: int
    peak: int
    frames: int
    top: tuple[AllocSite, ...] = ()
    growth: tuple[AllocSite, ...] = ()
    #: wall time of the mark that growth is measured from; None before a mark
    marked_at: float | None = None
    #: the biggest site's traceback, outermost first ("file:line" each)
    traceback: tuple[str, ...] = ()
    #: seconds the last snapshot of the heap took (what showing this costs)
    snapshot_s: float = 0.0


@fast_init
@dataclass(frozen=True, slots=True)
class ProfileStats:
    """The profile section of a snapshot: sampler state, top functions, timings, allocations."""

    #: the section's own version, for readers of stored snapshots
    version: int = 1
    running: bool = False
    #: the rate asked for and the rate achieved (it adapts down when its cost rises)
    target_hz: float = 0.0
    rate_hz: float = 0.0
    #: the sampler thread's own CPU time over wall time while running
    cost_fraction: float = 0.0
    samples: int = 0
    idle_samples: int = 0
    #: CPU seconds sampled in threads that were running (the 100% of the shares)
    active_s: float = 0.0
    #: "cpu": times are per-thread CPU time; "wall": where thread CPU clocks cannot be read
    clock: str = "cpu"
    duration_s: float = 0.0
    threads: int = 0
    functions: tuple[FunctionStat, ...] = ()
    timings: tuple[TimingStat, ...] = ()
    alloc: AllocStats | None = None
    #: what a person should know (a cost that started, a limit reached)
    notes: tuple[str, ...] = ()
    #: which sampler ran ("cpu-timer", "thread"; "" before #31), "fixed" or "adaptive",
    #: and the rounds a second it achieved (per CPU second for the CPU timer)
    sampler: str = ""
    mode: str = ""
    achieved_hz: float = 0.0


@fast_init
@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the dashboard draws for one moment of one process."""

    timestamp: float
    pid: int
    seq: int
    memory: MemorySample
    #: None when the source cannot see the interpreter (another process, no agent)
    gc: GCStats | None = None
    tier: str = "NORMAL"
    caches: tuple[CacheStats, ...] = ()
    pools: tuple[PoolStats, ...] = ()
    events: tuple[Event, ...] = ()
    cleanups: tuple[CleanupReport, ...] = ()
    bench: tuple[BenchResult, ...] = ()
    #: RSS in bytes at which ELEVATED, HIGH and CRITICAL begin; () when unknown
    thresholds: tuple[int, ...] = ()
    bench_progress: BenchProgress | None = None
    profile: ProfileStats | None = None
    advice: AdviceStats | None = None
    tuning: TuneStats | None = None
    format_version: int = field(default=FORMAT_VERSION)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; `Snapshot.from_dict(s.to_dict()) == s`."""
        out = _encode(self)
        assert isinstance(out, dict)
        return out

    @classmethod
    def from_dict(cls, data: object) -> Snapshot:
        """Rebuild a snapshot, checking every field; raises `SnapshotFormatError`."""
        if not isinstance(data, dict):
            raise SnapshotFormatError(f"snapshot: expected an object, got {kind_of(data)}")
        version = data.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise SnapshotFormatError("snapshot.format_version: missing or not an integer")
        if version > FORMAT_VERSION:
            raise SnapshotFormatError(
                f"snapshot.format_version: {version} is newer than this tui-perf reads "
                f"({FORMAT_VERSION}); upgrade tui-perf"
            )
        if version < 1:
            raise SnapshotFormatError(f"snapshot.format_version: {version} is not a version")
        return decode(cls, data, "snapshot")


def _encode(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


def to_dict(value: object) -> dict[str, Any]:
    """Encode any telemetry dataclass as a JSON-ready dict."""
    out = _encode(value)
    if not isinstance(out, dict):
        raise TypeError(f"not a dataclass: {value!r}")
    return out
