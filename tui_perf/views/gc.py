"""The GC pane's view: the strategy, the generations' counters, pause percentiles and the
share of time spent collecting."""

from __future__ import annotations

from dataclasses import dataclass, field

from tui_perf.views.history import History, Series, series_of


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
    fraction: Series = field(default_factory=Series)
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
        fraction=series_of(
            with_gc, [s.gc.gc_time_fraction * 100 for s in with_gc if s.gc is not None]
        ),
        census=g.census,
        timed_share=g.pauses_timed_share,
    )
