"""Overview: the tier banner, RSS against the thresholds, and one line per subsystem."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.reactive import reactive

from tui_perf.model.format import fmt_bytes, fmt_percent
from tui_perf.views.history import TIME_AXIS, MiB
from tui_perf.views.memory import TIER_NAMES, thresholds_near
from tui_perf.views.overview import OverviewView, widgets_line
from tui_perf.widgets.chart import Chart, ChartSpec, Line
from tui_perf.widgets.managed import ManagedWidget
from tui_perf.widgets.text import InfoBlock, fields

TIER_COLOURS = {"NORMAL": "green", "ELEVATED": "yellow", "HIGH": "orange", "CRITICAL": "red"}


def rss_chart(view: OverviewView | None, title: str = "RSS (MiB)") -> ChartSpec:
    if view is None:
        return ChartSpec(title)
    m = view.memory
    xs, ys = m.rss_mib.points()
    hlines, note = thresholds_near([t / MiB for t in m.thresholds], ys, ("yellow", "orange", "red"))
    if hlines:
        title += " · lines: " + ", ".join(TIER_NAMES[: len(hlines)]) + " thresholds"
    if note:
        title += f" · {note}"
    return ChartSpec(title, TIME_AXIS, (Line("RSS", tuple(xs), tuple(ys)),), hlines)


class OverviewPane(ManagedWidget):
    DEFAULT_CSS = """
    OverviewPane { layout: vertical; height: 1fr; }
    OverviewPane #tier { height: 3; content-align: center middle; text-style: bold; }
    OverviewPane #summary { height: auto; padding: 0 1; }
    """

    # repaint=False on every pane's view: a pane is a container whose children refresh
    # themselves when their own content changed. A repaint of the pane marks its whole
    # region dirty, so every child (the chart too) was rendered again at every snapshot.
    view: reactive[OverviewView | None] = reactive(None, init=False, repaint=False)

    def compose(self) -> ComposeResult:
        yield InfoBlock(Text("waiting for the first snapshot…"), id="tier")
        yield InfoBlock(id="summary")
        yield Chart(rss_chart(None), id="overview-rss")

    def watch_view(self, view: OverviewView | None) -> None:
        """Lay out the latest overview."""
        if view is None:
            return
        m = view.memory
        banner = self.query_one("#tier", InfoBlock)
        if not banner.has_class(f"-tier-{m.tier.lower()}"):  # restyle only on a tier change
            for tier in TIER_COLOURS:
                banner.set_class(tier == m.tier, f"-tier-{tier.lower()}")
        used = f" · {m.rss / m.budget * 100:.0f}% of {fmt_bytes(m.budget)}" if m.budget else ""
        text = f"{m.tier} · RSS {fmt_bytes(m.rss)}{used}"
        banner.set(Text(text), text, 1)
        gc_line = (
            f"{view.strategy}{' (adaptive)' if view.adaptive else ''}"
            if view.gc_visible
            else "not in this recording"
            if view.recorded
            else "not visible from outside this process"
        )
        pools = Text("none registered")
        if view.pools:
            pools = Text(f"{view.pools_healthy}/{view.pools} healthy")
            if view.pool_problem:
                pools.append(f" · {view.pool_problem}", style="red")
        rows: list[tuple[str, str | Text]] = [
            ("GC", gc_line),
            (
                "caches",
                f"{view.caches} · hit rate {fmt_percent(view.hit_rate)}"
                if view.caches
                else "none registered",
            ),
            ("pools", pools),
            (
                "benchmarks",
                view.bench
                or ("none in this recording" if view.recorded else "none run yet (press b)"),
            ),
            ("CPU", f"{m.cpu_percent:.0f}% · {m.threads} threads"),
        ]
        if view.widgets is not None:
            rows.append(("dashboard", Text(widgets_line(view.widgets), style="dim")))
        self.query_one("#summary", InfoBlock).set(fields(rows), tuple(map(str, rows)), len(rows))
        self.query_one(Chart).show(rss_chart(view))
