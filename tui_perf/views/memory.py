"""The Memory pane's view: RSS, VMS and USS over the window, the tier, and which tier lines
are near enough to the data to draw."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tui_perf.model.snapshot import CleanupReport
from tui_perf.views.history import History, MiB, Series, series_of


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
        rss_mib=series_of(snaps, [s.memory.rss / MiB for s in snaps]),
        vms_mib=series_of(snaps, [s.memory.vms / MiB for s in snaps]),
        uss_mib=series_of(
            snaps, [s.memory.uss / MiB if s.memory.uss is not None else None for s in snaps]
        ),
        cleanups=tuple(h.cleanups),
    )
