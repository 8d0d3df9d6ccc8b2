"""Overview: the tier banner, RSS against the thresholds, and one line per subsystem."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widgets import Static

from tui_perf.format import fmt_bytes, fmt_percent
from tui_perf.views import MiB, OverviewView
from tui_perf.widgets.chart import Chart, ChartSpec, Line
from tui_perf.widgets.managed import ManagedWidget

TIER_COLOURS = {"NORMAL": "green", "ELEVATED": "yellow", "HIGH": "orange", "CRITICAL": "red"}


def rss_chart(
    view: OverviewView | None, title: str = "RSS (MiB) over the last minutes"
) -> ChartSpec:
    if view is None:
        return ChartSpec(title)
    m = view.memory
    xs, ys = m.rss_mib.points()
    hlines = tuple(
        (t / MiB, colour)
        for t, colour in zip(m.thresholds, ("yellow", "orange", "red"), strict=False)
    )
    return ChartSpec(title, "seconds before now", (Line("RSS", tuple(xs), tuple(ys)),), hlines)


class OverviewPane(ManagedWidget):
    DEFAULT_CSS = """
    OverviewPane { layout: vertical; height: 1fr; }
    OverviewPane #tier { height: 3; content-align: center middle; text-style: bold; }
    OverviewPane #summary { height: auto; padding: 0 1; }
    """

    view: reactive[OverviewView | None] = reactive(None, init=False)

    def compose(self) -> ComposeResult:
        yield Static("waiting for the first snapshot…", id="tier")
        yield Static("", id="summary")
        yield Chart(rss_chart(None), id="overview-rss")

    def watch_view(self, view: OverviewView | None) -> None:
        """Lay out the latest overview."""
        if view is None:
            return
        m = view.memory
        banner = self.query_one("#tier", Static)
        for tier in TIER_COLOURS:
            banner.set_class(tier == m.tier, f"-tier-{tier.lower()}")
        used = f" · {m.rss / m.budget * 100:.0f}% of {fmt_bytes(m.budget)}" if m.budget else ""
        banner.update(f"{m.tier} · RSS {fmt_bytes(m.rss)}{used}")
        gc_line = (
            f"{view.strategy}{' (adaptive)' if view.adaptive else ''}"
            if view.gc_visible
            else "not visible from outside this process"
        )
        pools = (
            f"{view.pools_healthy}/{view.pools} healthy"
            + (f" · [red]{escape(view.pool_problem)}[/]" if view.pool_problem else "")
            if view.pools
            else "none registered"
        )
        lines = [
            f"[b]GC[/]        {gc_line}",
            f"[b]caches[/]    {view.caches} · hit rate {fmt_percent(view.hit_rate)}"
            if view.caches
            else "[b]caches[/]    none registered",
            f"[b]pools[/]     {pools}",
            f"[b]benchmarks[/] {escape(view.bench) or 'none run yet (press b)'}",
            f"[b]CPU[/]       {m.cpu_percent:.0f}% · {m.threads} threads",
        ]
        if view.widgets is not None:
            w = view.widgets
            lines.append(
                f"[dim]dashboard: {w.alive} widgets · render cache "
                f"{fmt_percent(w.render_hit_rate, 0)} hits · row state reuse "
                f"{fmt_percent(w.row_state_reuse, 0)}[/]"
            )
        self.query_one("#summary", Static).update("\n".join(lines))
        self.query_one(Chart).show(rss_chart(view))
