"""Pure functions from snapshots to what each pane draws. No widgets, no I/O.

The app keeps a bounded `History`; each pane gets a frozen view made from it, so the panes
only lay out what they are given, and tests can check the shaping without a terminal.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tui_perf.model.snapshot import (
    AllocStats,
    BenchProgress,
    BenchResult,
    CacheStats,
    CleanupReport,
    Event,
    PoolStats,
    ProfileStats,
    Snapshot,
    TimingStat,
)

MiB = 1024 * 1024
TIERS = ("NORMAL", "ELEVATED", "HIGH", "CRITICAL")
#: a tier's place in `TIERS`: higher is worse
TIER_RANK = {tier: rank for rank, tier in enumerate(TIERS)}


#: the charts' time axis: true live (the latest sample is now) and in a replay (it is the
#: frame at the cursor)
TIME_AXIS = "seconds before the latest sample"


@dataclass
class History:
    """The last `size` snapshots plus everything that accumulates (events, cleanups, runs)."""

    size: int = 600
    #: a recording (replay): nothing was run here, nothing can be
    recorded: bool = False
    snapshots: deque[Snapshot] = field(default_factory=deque)
    events: deque[Event] = field(default_factory=lambda: deque(maxlen=1000))
    cleanups: deque[CleanupReport] = field(default_factory=lambda: deque(maxlen=20))
    bench: dict[str, list[BenchResult]] = field(default_factory=dict)
    #: benchmarks measured in the watched process this session (the rest came from the
    #: history file: other processes, other days)
    bench_here: set[str] = field(default_factory=set)

    def add(self, snap: Snapshot) -> None:
        self.snapshots.append(snap)
        while len(self.snapshots) > self.size:
            self.snapshots.popleft()
        self.events.extend(snap.events)
        self.cleanups.extend(snap.cleanups)
        for result in snap.bench:
            self.bench.setdefault(result.name, []).append(result)
            self.bench_here.add(result.name)

    def reset(self, snapshots: Iterable[Snapshot], events: Iterable[Event]) -> None:
        """Start again from a window of snapshots and the events until its end (a replay's
        cursor moved); benchmark results are those the window holds."""
        self.snapshots.clear()
        self.cleanups.clear()
        self.bench.clear()
        self.bench_here.clear()
        for snap in snapshots:
            self.add(snap)
        self.events.clear()
        self.events.extend(events)

    def set_verdict(self, result: BenchResult, verdict: str) -> None:
        """Attach the verdict the history gave `result` (judged after it arrived)."""
        results = self.bench.get(result.name, [])
        for i, known in enumerate(results):
            if known is result or known.values == result.values:
                results[i] = dataclasses.replace(known, verdict=verdict)

    def frozen(self) -> History:
        """A copy that later snapshots do not change (the view paused at this moment)."""
        return History(
            size=self.size,
            recorded=self.recorded,
            snapshots=deque(self.snapshots),
            events=deque(self.events, maxlen=self.events.maxlen),
            cleanups=deque(self.cleanups, maxlen=self.cleanups.maxlen),
            bench={name: list(runs) for name, runs in self.bench.items()},
            bench_here=set(self.bench_here),
        )

    @property
    def latest(self) -> Snapshot | None:
        return self.snapshots[-1] if self.snapshots else None

    @property
    def version(self) -> int:
        """Changes whenever a new snapshot arrives: the render cache's data version."""
        return self.snapshots[-1].seq if self.snapshots else 0


@dataclass(frozen=True, slots=True)
class Series:
    """x: seconds before the latest snapshot (negative), y: values; None is a gap."""

    x: tuple[float, ...] = ()
    y: tuple[float | None, ...] = ()

    def points(self) -> tuple[list[float], list[float]]:
        pairs = [(x, y) for x, y in zip(self.x, self.y, strict=True) if y is not None]
        return [p[0] for p in pairs], [p[1] for p in pairs]


def _series(snaps: list[Snapshot], values: list[float | None]) -> Series:
    if not snaps:
        return Series()
    end = snaps[-1].timestamp
    return Series(tuple(s.timestamp - end for s in snaps), tuple(values))


@dataclass(frozen=True, slots=True)
class WidgetStats:
    """The dashboard's own widgets, as its widget memory manager sees them."""

    alive: int
    by_type: tuple[tuple[str, int], ...]
    row_states_in_use: int
    row_state_reuse: float | None
    render_hits: int
    render_misses: int
    render_cached: int

    @property
    def render_hit_rate(self) -> float | None:
        lookups = self.render_hits + self.render_misses
        return self.render_hits / lookups if lookups else None


# -- memory ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MemoryView:
    tier: str
    rss: int
    vms: int
    uss: int | None
    budget: int | None
    cpu_percent: float
    threads: int
    open_fds: int | None
    thresholds: tuple[int, ...]
    rss_mib: Series
    vms_mib: Series
    uss_mib: Series
    cleanups: tuple[CleanupReport, ...]


TIER_NAMES = ("ELEVATED", "HIGH", "CRITICAL")


def thresholds_near(
    thresholds_mib: Sequence[float], ys: Sequence[float | None], colours: Sequence[str]
) -> tuple[tuple[tuple[float, str], ...], str]:
    """The tier lines worth drawing beside a series, and a note for the ones left out.

    A chart scaled from 0 to a budget of 12 GiB shows a program's 80 MiB as a flat line on
    the floor; so a threshold is drawn only when it lies within twice the series' peak, and
    the first one above that is named instead ("ELEVATED at 7.1 GiB, above the chart").
    """
    values = [y for y in ys if y is not None]
    if not values:
        return (), ""
    top = max(values) * 2
    shown = tuple((t, c) for t, c in zip(thresholds_mib, colours, strict=False) if t <= top)
    above = [(t, n) for t, n in zip(thresholds_mib, TIER_NAMES, strict=False) if t > top]
    note = ""
    if above:
        t, name = above[0]
        note = (
            f"{name} at {t / 1024:.1f} GiB, above the chart"
            if t >= 1024
            else f"{name} at {t:.0f} MiB, above the chart"
        )
    return shown, note


def memory_view(h: History) -> MemoryView | None:
    snaps = list(h.snapshots)
    if not snaps:
        return None
    last = snaps[-1]
    m = last.memory
    return MemoryView(
        tier=last.tier,
        rss=m.rss,
        vms=m.vms,
        uss=m.uss,
        budget=m.budget,
        cpu_percent=m.cpu_percent,
        threads=m.num_threads,
        open_fds=m.open_fds,
        thresholds=last.thresholds,
        rss_mib=_series(snaps, [s.memory.rss / MiB for s in snaps]),
        vms_mib=_series(snaps, [s.memory.vms / MiB for s in snaps]),
        uss_mib=_series(
            snaps, [s.memory.uss / MiB if s.memory.uss is not None else None for s in snaps]
        ),
        cleanups=tuple(h.cleanups),
    )


# -- gc --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GCView:
    visible: bool
    strategy: str = ""
    adaptive: bool = False
    enabled: bool = True
    thresholds: tuple[int, ...] = ()
    counts: tuple[int, ...] = ()
    collections: tuple[int, ...] = ()
    collected: tuple[int, ...] = ()
    uncollectable: tuple[int, ...] = ()
    frozen: int = 0
    pauses: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    fraction: Series = Series()
    census: tuple[tuple[str, int], ...] = ()
    #: below 1: pauses were timed in turns (a collection storm), the share is estimated
    timed_share: float = 1.0


def gc_view(h: History) -> GCView | None:
    snaps = list(h.snapshots)
    if not snaps:
        return None
    g = snaps[-1].gc
    if g is None:
        return GCView(visible=False)
    with_gc = [s for s in snaps if s.gc is not None]
    return GCView(
        visible=True,
        strategy=g.strategy,
        adaptive=g.adaptive,
        enabled=g.enabled,
        thresholds=g.thresholds,
        counts=g.counts,
        collections=g.collections,
        collected=g.collected,
        uncollectable=g.uncollectable,
        frozen=g.frozen,
        pauses=g.pauses,
        p50_ms=g.pause_p50_ms,
        p99_ms=g.pause_p99_ms,
        max_ms=g.pause_max_ms,
        fraction=_series(
            with_gc, [s.gc.gc_time_fraction * 100 for s in with_gc if s.gc is not None]
        ),
        census=g.census,
        timed_share=g.pauses_timed_share,
    )


# -- caches ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CacheRow:
    key: str  # "cache/level": stable, so the table updates rows in place
    cache: str
    level: str
    kind: str
    hits: int
    misses: int
    hit_rate: float | None
    size: int
    maxsize: int | None
    evictions: int
    expirations: int
    pinned: bool
    #: "up" or "down" (an L2 tier whose circuit is open), with its errors and why
    state: str = "up"
    errors: int = 0
    reason: str = ""


def cache_rows(caches: tuple[CacheStats, ...], sort: str = "name") -> list[CacheRow]:
    rows = [
        CacheRow(
            f"{c.name}/{t.level}",
            c.name,
            t.level,
            t.kind,
            t.hits,
            t.misses,
            t.hit_rate,
            t.size,
            t.maxsize,
            t.evictions,
            t.expirations,
            c.pinned,
            t.state,
            t.errors,
            t.reason,
        )
        for c in caches
        for t in c.tiers
    ]
    keys = {
        "name": lambda r: (r.cache, r.level),
        "hit rate": lambda r: (-(r.hit_rate if r.hit_rate is not None else -1), r.key),
        "hits": lambda r: (-r.hits, r.key),
        "size": lambda r: (-r.size, r.key),
        "evictions": lambda r: (-r.evictions, r.key),
    }
    return sorted(rows, key=keys.get(sort, keys["name"]))


def tiers_down(rows: list[CacheRow] | tuple[CacheRow, ...]) -> list[str]:
    """One line per tier that is down: which, why, and how many errors so far."""
    return [
        f"{r.level} of {r.cache} ({r.kind}) is down, its lookups are misses: "
        f"{r.reason or 'errors'} · {r.errors:,} errors"
        for r in rows
        if r.state == "down"
    ]


def hit_rate_series(h: History, cache: str) -> Series:
    """The hit rate between consecutive snapshots (hits over lookups in that interval), in %.

    Windowed rather than cumulative, so a change shows as it happens. None where the
    interval saw no lookups.
    """
    snaps = list(h.snapshots)
    values: list[float | None] = []
    previous: CacheStats | None = None
    kept: list[Snapshot] = []
    for snap in snaps:
        current = next((c for c in snap.caches if c.name == cache), None)
        if current is None:
            previous = None
            continue
        if previous is not None:
            lookups = current.lookups - previous.lookups
            hits = current.hits - previous.hits
            values.append(hits / lookups * 100 if lookups > 0 else None)
            kept.append(snap)
        previous = current
    return _series(kept, values)


def overall_hit_rate(caches: tuple[CacheStats, ...]) -> float | None:
    lookups = sum(c.lookups for c in caches)
    return sum(c.hits for c in caches) / lookups if lookups else None


# -- pools -----------------------------------------------------------------------------


def pool_rows(pools: tuple[PoolStats, ...]) -> list[PoolStats]:
    """Unhealthy pools first, then by name."""
    return sorted(pools, key=lambda p: (p.healthy, p.name))


def pool_health(pools: tuple[PoolStats, ...]) -> tuple[int, int, str]:
    """(healthy, total, the first reason a pool is not)."""
    sick = [p for p in pools if not p.healthy]
    return len(pools) - len(sick), len(pools), (f"{sick[0].name}: {sick[0].reason}" if sick else "")


# -- benchmarks ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BenchRow:
    name: str
    median_s: float
    runs: int
    verdict: str  # the whole line: "slower: +14% [+11..+17], beyond noise ±3.0%"

    @property
    def verdict_short(self) -> str:
        """What fits a table cell: the verdict, the change and its interval."""
        return self.verdict.split(", ", 1)[0]


@dataclass(frozen=True, slots=True)
class BenchView:
    rows: tuple[BenchRow, ...]
    progress: BenchProgress | None
    last_verdict: str
    failed: tuple[str, ...] = ()  # "name failed: reason", from the last run


def bench_view(h: History) -> BenchView:
    rows = tuple(
        BenchRow(name, results[-1].median_s, len(results), results[-1].verdict)
        for name, results in sorted(h.bench.items())
    )
    latest = h.latest
    # The summary speaks of this session's target only, not of the history file's past.
    here = [r for r in rows if r.name in h.bench_here]
    slower = [r.name for r in here if r.verdict.startswith("slower")]
    judged = [r for r in here if r.verdict and not r.verdict.startswith("no baseline")]
    if not here:
        last = ""
    elif slower:
        last = f"slower: {', '.join(slower)}"
    elif judged:
        last = "no regression"
    else:
        last = f"{len(here)} measured, no baseline yet"
    # The last run's failures: its error events, after the previous run's summary.
    failed: list[str] = []
    in_last_run = False
    for event in reversed(h.events):
        if event.kind != "bench":
            continue
        if event.message.startswith("benchmark run:"):
            if in_last_run:
                break  # the run before: its failures are not news
            in_last_run = True
        elif event.level == "error" and in_last_run:
            failed.append(event.message)
    return BenchView(rows, latest.bench_progress if latest else None, last, tuple(reversed(failed)))


def bench_trend(h: History, name: str) -> tuple[list[float], list[float]]:
    """Median (µs) per run of one benchmark in this session."""
    results = h.bench.get(name, [])
    return [float(i + 1) for i in range(len(results))], [r.median_s * 1e6 for r in results]


# -- events ----------------------------------------------------------------------------


def filter_events(
    events: deque[Event] | list[Event], text: str = "", limit: int = 200
) -> list[Event]:
    """Newest first; `text` matches kind, level or message, case-insensitively."""
    needle = text.lower().strip()
    out = []
    for event in reversed(events):
        if not needle or needle in f"{event.kind} {event.level} {event.message}".lower():
            out.append(event)
            if len(out) >= limit:
                break
    return out


# -- overview --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OverviewView:
    memory: MemoryView
    strategy: str
    adaptive: bool
    gc_visible: bool
    hit_rate: float | None
    caches: int
    pools_healthy: int
    pools: int
    pool_problem: str
    bench: str
    widgets: WidgetStats | None
    recorded: bool = False


def overview_view(h: History, widgets: WidgetStats | None = None) -> OverviewView | None:
    memory = memory_view(h)
    latest = h.latest
    if memory is None or latest is None:
        return None
    healthy, total, problem = pool_health(latest.pools)
    g = latest.gc
    return OverviewView(
        memory=memory,
        strategy=g.strategy if g else "",
        adaptive=bool(g and g.adaptive),
        gc_visible=g is not None,
        hit_rate=overall_hit_rate(latest.caches),
        caches=len(latest.caches),
        pools_healthy=healthy,
        pools=total,
        pool_problem=problem,
        bench=bench_view(h).last_verdict,
        widgets=widgets,
        recorded=h.recorded,
    )


def downsample_max(
    xs: tuple[float, ...], ys: tuple[float, ...], buckets: int
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """At most `buckets` points, each the highest of its run of points (peaks survive).

    A chart cannot show more points than it has columns; drawing them all only costs time
    (plotext's braille drawing is linear in points).
    """
    n = len(xs)
    if buckets < 1 or n <= buckets:
        return xs, ys
    out_x: list[float] = []
    out_y: list[float] = []
    for b in range(buckets):
        lo, hi = b * n // buckets, (b + 1) * n // buckets
        if hi <= lo:
            continue
        i = max(range(lo, hi), key=ys.__getitem__)
        out_x.append(xs[i])
        out_y.append(ys[i])
    return tuple(out_x), tuple(out_y)


# -- profile -----------------------------------------------------------------------------

PROFILE_SORTS = ("own", "total")
#: the caches table's sorts, in the order `o` cycles through them
CACHE_SORTS = ("name", "hit rate", "hits", "size", "evictions")


@dataclass(frozen=True, slots=True)
class ProfileRow:
    """One function as `py-spy top` shows it; shares are of the sampled running time."""

    own_share: float
    total_share: float
    own_s: float
    total_s: float
    function: str
    where: str


@dataclass(frozen=True, slots=True)
class ProfileView:
    #: "sampling 100 Hz · cost 0.4% of a core", or why nothing is sampled
    status: str
    rows: tuple[ProfileRow, ...]
    timings: tuple[TimingStat, ...]
    alloc: AllocStats | None
    notes: tuple[str, ...]


def profile_status(p: ProfileStats | None) -> str:
    """The profiler's state and its measured cost, in one line."""
    if p is None or not (p.running or p.samples or p.idle_samples):
        return "sampler off · press p to sample the watched process"
    cost = f"cost {p.cost_fraction * 100:.1f}% of a core"
    clock = "CPU time" if p.clock == "cpu" else "wall time"
    head = f"sampling {p.rate_hz:.0f} Hz" if p.running else "stopped"
    if p.running and p.rate_hz < p.target_hz:
        head += f" (adapted down from {p.target_hz:.0f} Hz)"
    return (
        f"{head} · {cost} · {p.samples} samples over {p.duration_s:.0f} s, "
        f"{p.idle_samples} idle hidden · {clock}"
    )


def profile_rows(p: ProfileStats | None, sort: str = "own") -> list[ProfileRow]:
    """Functions sorted by own or total time, with their shares of the running time."""
    if p is None or p.active_s <= 0:
        return []
    rows = [
        ProfileRow(
            f.own_s / p.active_s,
            min(1.0, f.total_s / p.active_s),
            f.own_s,
            f.total_s,
            f.function,
            f"{_short_path(f.file)}:{f.line}" if f.file else "",
        )
        for f in p.functions
    ]
    key = (
        (lambda r: (-r.own_s, -r.total_s)) if sort == "own" else (lambda r: (-r.total_s, -r.own_s))
    )
    rows.sort(key=key)
    return rows


def _short_path(path: str, keep: int = 2) -> str:
    """The last `keep` parts of a path: the table has room for where, not for all of it."""
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[-keep:])


def profile_view(h: History, sort: str = "own") -> ProfileView:
    latest = h.latest
    p = latest.profile if latest is not None else None
    return ProfileView(
        status=profile_status(p),
        rows=tuple(profile_rows(p, sort)),
        timings=p.timings if p is not None else (),
        alloc=p.alloc if p is not None else None,
        notes=p.notes if p is not None else (),
    )


# -- tables at any width ---------------------------------------------------------------


def columns_that_fit(
    labels: Sequence[str],
    drop_first: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int,
    padding: int = 2,
) -> tuple[str, ...]:
    """The columns to show in `width` cells: all when they fit, else the ones in
    `drop_first` left out in that order until the rest fit (whole columns, never a header cut
    mid-word). `rows` are the cells' plain text, in `labels` order."""
    natural = {
        label: max([len(label), *(len(r[i]) for r in rows if i < len(r))]) + padding
        for i, label in enumerate(labels)
    }
    shown = list(labels)
    for label in drop_first:
        if width <= 0 or sum(natural[c] for c in shown) <= width:
            break
        if label in shown:
            shown.remove(label)
    return tuple(shown)
