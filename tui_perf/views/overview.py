"""The Overview pane's view: the other panes' headlines in one frozen value, and the
dashboard's own widgets as its widget memory manager sees them."""

from __future__ import annotations

from dataclasses import dataclass

from tui_perf.views.bench import bench_view
from tui_perf.views.caches import overall_hit_rate
from tui_perf.views.history import History
from tui_perf.views.memory import MemoryView, memory_view
from tui_perf.views.pools import pool_health


@dataclass(frozen=True, slots=True)
class WidgetStats:
    """The dashboard's own live widgets, as its widget memory manager sees them."""

    alive: int
    by_type: tuple[tuple[str, int], ...]  # (class name, live count), sorted by name


def widgets_line(stats: WidgetStats, most: int = 3) -> str:
    """The Overview's line: the count, then the commonest types (a pane that leaks widgets
    shows up here), e.g. `41 widgets · InfoBlock 18, Chart 9, CachesPane 1, +6 types`."""
    ranked = sorted(stats.by_type, key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{name} {count}" for name, count in ranked[:most])
    rest = f", +{len(ranked) - most} types" if len(ranked) > most else ""
    noun = "widget" if stats.alive == 1 else "widgets"
    return f"{stats.alive} {noun} · {shown}{rest}" if shown else f"{stats.alive} {noun}"


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
