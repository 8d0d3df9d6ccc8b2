"""The replay timeline as cells: pure shaping for `widgets/timeline.py`.

One cell per column across the whole recording: the worst tier of the frames that fall in
it (a gap where none do: the process was not recorded then), a mark where an event
happened (warnings and errors over info), and the cursor's column.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from tui_perf.model.snapshot import Event
from tui_perf.views.history import TIER_RANK

_LEVEL_RANK = {"info": 0, "warning": 1, "error": 2}


@dataclass(frozen=True, slots=True)
class Position:
    """Where the cursor is, for the timeline bar."""

    index: int
    count: int
    at: float  # the frame's timestamp
    playing: bool
    speed: float


@dataclass(frozen=True, slots=True)
class Cell:
    tier: str  # "" where no frame falls
    event: str  # "" or the worst level of the events in it


@dataclass(frozen=True, slots=True)
class TimelineView:
    cells: tuple[Cell, ...]
    cursor: int
    label: str


def timeline_cells(
    times: Sequence[float], tiers: Sequence[str], events: Sequence[Event], width: int
) -> tuple[Cell, ...]:
    """`times` ascending, one tier per time; `width` columns.

    A column shows the worst tier of the frames in it; one with no frame shows the tier of
    the frame before it, unless that frame is more than three typical frame gaps back (the
    process was not recorded then: a gap).
    """
    width = max(1, width)
    if not times:
        return tuple(Cell("", "") for _ in range(width))
    start, span = times[0], max(times[-1] - times[0], 1e-9)
    worst = [""] * width
    for t, tier in zip(times, tiers, strict=True):
        i = column(t, start, span, width)
        if not worst[i] or TIER_RANK.get(tier, 0) > TIER_RANK.get(worst[i], 0):
            worst[i] = tier
    gaps = sorted(b - a for a, b in pairwise(times))
    allowed = 3 * gaps[len(gaps) // 2] if gaps else 0.0
    step = span / (width - 1) if width > 1 else span
    for i in range(width):
        if worst[i]:
            continue
        t = start + i * step
        j = bisect_right(times, t) - 1
        if j >= 0 and j + 1 < len(times) and times[j + 1] - times[j] <= allowed:
            worst[i] = tiers[j]
    marks = [""] * width
    for e in events:
        if not start <= e.timestamp <= times[-1]:
            continue
        i = column(e.timestamp, start, span, width)
        if not marks[i] or _LEVEL_RANK.get(e.level, 0) > _LEVEL_RANK.get(marks[i], 0):
            marks[i] = e.level
    return tuple(Cell(t, m) for t, m in zip(worst, marks, strict=True))


def column(t: float, start: float, span: float, width: int) -> int:
    return min(width - 1, max(0, int((t - start) / span * (width - 1) + 0.5)))


def timeline_label(position: Position, start: float, end: float) -> str:
    """Where the cursor is and what the keys do."""
    fmt = "%H:%M:%S" if _same_day(start, end) else "%m-%d %H:%M:%S"
    at = time.strftime(fmt, time.localtime(position.at))
    state = f"▶ {position.speed:g}x" if position.playing else f"❚❚ {position.speed:g}x"
    return (
        f"{at} · frame {position.index + 1}/{position.count} · {state} · "
        ", . step · [ ] event · ␣ play · x speed · recording: keys that act are off"
    )


def timeline_view(
    times: Sequence[float], cells: tuple[Cell, ...], position: Position
) -> TimelineView:
    """The bar (`cells`, from `timeline_cells`: they depend on the width only, so a widget
    computes them once per width) with the cursor and the label at `position`."""
    if not times:
        return TimelineView(cells, 0, "")
    start, span = times[0], max(times[-1] - times[0], 1e-9)
    return TimelineView(
        cells,
        column(position.at, start, span, len(cells)),
        timeline_label(position, times[0], times[-1]),
    )


def _same_day(a: float, b: float) -> bool:
    return time.localtime(a)[:3] == time.localtime(b)[:3]
