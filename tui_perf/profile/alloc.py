"""Allocation sites on demand: tracemalloc's top file:lines, and growth since a mark.

`start()` begins tracing (`frames` deep) unless something else already traces, and `stop()`
ends only tracing it began. `mark()` keeps a heap snapshot; `stats()` compares against it
("grew since you pressed m"). Taking a snapshot walks every traced block, so `stats()`
remembers what it took and the section asks at most every few seconds.
"""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Callable

from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import AllocSite, AllocStats

#: our own frames and the import machinery are not the program's allocations
_IGNORED = (
    tracemalloc.Filter(False, tracemalloc.__file__),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
    tracemalloc.Filter(False, "<unknown>"),
)


class AllocationTracker:
    def __init__(self, *, wall: Callable[[], float] = time.time, top: int = 15) -> None:
        self.wall = wall
        self.top = top
        self.started_here = False
        self.frames = 0
        self._mark: tracemalloc.Snapshot | None = None
        self.marked_at: float | None = None
        self._lock = threading.Lock()

    @property
    def tracing(self) -> bool:
        return tracemalloc.is_tracing()

    def start(self, frames: int = 10) -> bool:
        """Trace allocations `frames` deep; False when tracing was already on (kept as is)."""
        if not 1 <= frames <= 100:
            raise ConfigError(f"frames must be in 1..100, got {frames}")
        if tracemalloc.is_tracing():
            self.frames = tracemalloc.get_traceback_limit()
            return False
        tracemalloc.start(frames)
        self.started_here = True
        self.frames = frames
        return True

    def stop(self) -> bool:
        """Stop tracing if `start` began it; False when it was someone else's (left on)."""
        with self._lock:
            self._mark = None
            self.marked_at = None
        if self.started_here and tracemalloc.is_tracing():
            tracemalloc.stop()
            self.started_here = False
            return True
        return False

    def _snapshot(self) -> tracemalloc.Snapshot:
        return tracemalloc.take_snapshot().filter_traces(_IGNORED)

    def mark(self) -> float:
        if not tracemalloc.is_tracing():
            raise ConfigError("allocation tracing is off: start it first (alloc_start)")
        snap = self._snapshot()
        with self._lock:
            self._mark = snap
            self.marked_at = self.wall()
            return self.marked_at

    def stats(self) -> AllocStats | None:
        """The top sites by size, growth since the mark, the biggest site's traceback."""
        if not tracemalloc.is_tracing():
            return None
        t0 = time.perf_counter()
        snap = self._snapshot()
        traced, peak = tracemalloc.get_traced_memory()
        by_line = snap.statistics("lineno")
        top = tuple(
            AllocSite(_file(s.traceback), _line(s.traceback), s.size, s.count)
            for s in by_line[: self.top]
        )
        growth: tuple[AllocSite, ...] = ()
        with self._lock:
            mark, marked_at = self._mark, self.marked_at
        if mark is not None:
            diffs = [d for d in snap.compare_to(mark, "lineno") if d.size_diff > 0]
            growth = tuple(
                AllocSite(
                    _file(d.traceback),
                    _line(d.traceback),
                    d.size,
                    d.count,
                    d.size_diff,
                    d.count_diff,
                )
                for d in diffs[: self.top]
            )
        traceback: tuple[str, ...] = ()
        if by_line:
            biggest = by_line[0].traceback[0]
            # the full tracebacks of the biggest line's blocks, the largest first
            for stat in snap.filter_traces(
                (tracemalloc.Filter(True, biggest.filename, biggest.lineno),)
            ).statistics("traceback")[:1]:
                traceback = tuple(f"{f.filename}:{f.lineno}" for f in stat.traceback)
        return AllocStats(
            traced=traced,
            peak=peak,
            frames=tracemalloc.get_traceback_limit(),
            top=top,
            growth=growth,
            marked_at=marked_at,
            traceback=traceback,
            snapshot_s=time.perf_counter() - t0,
        )


def _file(tb: tracemalloc.Traceback) -> str:
    return tb[0].filename if len(tb) else "?"


def _line(tb: tracemalloc.Traceback) -> int:
    return tb[0].lineno if len(tb) else 0
