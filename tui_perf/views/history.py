"""The window every pane's view is made from: the bounded `History` of snapshots (and what
accumulates beside them), the `Series` a chart draws, and the constants the panes share
(tiers, MiB, the charts' time axis). Pure data shaping: no widgets, no I/O.

The app keeps one `History`; each pane gets a frozen view made from it by the function in
the pane's own module here (`memory.py`, `gc.py`, ...), so the panes only lay out what they
are given, and tests check the shaping without a terminal.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from tui_perf.model.snapshot import BenchResult, CleanupReport, Event, Snapshot

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


@dataclass(frozen=True, slots=True)
class Series:
    """x: seconds before the latest snapshot (negative), y: values; None is a gap."""

    x: tuple[float, ...] = ()
    y: tuple[float | None, ...] = ()

    def points(self) -> tuple[list[float], list[float]]:
        pairs = [(x, y) for x, y in zip(self.x, self.y, strict=True) if y is not None]
        return [p[0] for p in pairs], [p[1] for p in pairs]


def series_of(snaps: list[Snapshot], values: list[float | None]) -> Series:
    if not snaps:
        return Series()
    end = snaps[-1].timestamp
    return Series(tuple(s.timestamp - end for s in snaps), tuple(values))


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
