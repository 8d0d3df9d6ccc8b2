"""GC: strategy and thresholds, collections per generation, pauses, time in GC, census."""

from __future__ import annotations

import dataclasses

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from tui_perf.model.format import fmt_ms
from tui_perf.views.gc import GCView
from tui_perf.views.history import TIME_AXIS, Series
from tui_perf.widgets.chart import Chart, ChartSpec, Line
from tui_perf.widgets.managed import ManagedWidget, TableRows
from tui_perf.widgets.text import InfoBlock, columns, fields

OUT_OF_REACH = (
    "The garbage collector is out of reach: this process is watched from outside. Run it "
    "with 'tui-perf run', or call tui_perf.agent.start() in it, to see its GC. Memory, CPU, "
    "threads and files are measured all the same (see Overview and Memory)."
)


def fraction_chart(view: GCView | None) -> ChartSpec:
    title = "time in GC (% of wall time, last minute)"
    if view is None or not view.visible:
        return ChartSpec(title)
    xs, ys = view.fraction.points()
    return ChartSpec(title, TIME_AXIS, (Line("GC %", tuple(xs), tuple(ys), "yellow"),))


class GCPane(ManagedWidget):
    DEFAULT_CSS = """
    GCPane { layout: vertical; height: 1fr; }
    GCPane #gc-top { height: 1fr; }
    GCPane #gc-stats { width: 46; padding: 0 1; }
    GCPane #census { height: 9; }
    GCPane #census-title { height: 1; padding: 0 1; text-style: bold; }
    """

    view: reactive[GCView | None] = reactive(None, init=False, repaint=False)

    def compose(self) -> ComposeResult:
        with Horizontal(id="gc-top"):
            yield InfoBlock(id="gc-stats")
            yield Chart(fraction_chart(None), id="gc-chart")
        yield Static(
            "cyclic garbage census: none yet (command palette: 'GC census')", id="census-title"
        )
        table: DataTable[str] = DataTable(id="census", cursor_type="row")
        table.add_columns("type left in reference cycles", "objects")
        yield table

    def on_mount(self) -> None:
        self._rows = TableRows(self.query_one("#census", DataTable))

    def watch_view(self, view: GCView | None) -> None:
        """Show the collector's state, the time-in-GC chart and the last census."""
        if view is None:
            return
        stats = self.query_one("#gc-stats", InfoBlock)
        for part in ("#gc-chart", "#census-title", "#census"):
            self.query_one(part).display = view.visible
        if not view.visible:
            stats.set(OUT_OF_REACH, OUT_OF_REACH, 4)
            return
        strategy = Text(f"{view.strategy}{' · adaptive' if view.adaptive else ''}")
        if not view.enabled:
            strategy.append(" · GC disabled", style="red")
        gens = columns(
            ("gen", "runs", "collected", "uncoll."),
            [
                (
                    str(i),
                    f"{view.collections[i]:,}",
                    f"{view.collected[i]:,}",
                    f"{view.uncollectable[i]:,}",
                )
                for i in range(len(view.collections))
            ],
        )
        top = fields(
            [
                ("strategy", strategy),
                ("thresholds", " / ".join(map(str, view.thresholds))),
                ("counts", " / ".join(map(str, view.counts))),
                ("frozen", f"{view.frozen:,} objects"),
            ]
        )
        pauses = fields(
            [
                (
                    "pauses",
                    f"{view.pauses:,} measured"
                    if view.timed_share >= 1
                    else f"{view.pauses:,} timed, in {view.timed_share:.0%} of the window "
                    "(a collection storm: the rest, and the GC share, are estimated)",
                ),
                ("p50 / p99", f"{fmt_ms(view.p50_ms)} / {fmt_ms(view.p99_ms)}"),
                ("max", fmt_ms(view.max_ms)),
            ]
        )
        # Everything shown except the chart's series: equal figures mean no repaint.
        key = dataclasses.replace(view, fraction=Series(), census=())
        stats.set(Group(top, gens, pauses), key, 8 + len(view.collections))
        self.query_one("#gc-chart", Chart).show(fraction_chart(view))
        self._rows.sync((name, [name, str(count)]) for name, count in view.census)
        if view.census:
            total = sum(c for _, c in view.census)
            self.query_one("#census-title", Static).update(
                f"cyclic garbage census: {total} objects in cycles at the last census"
            )
