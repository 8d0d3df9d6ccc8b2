"""GC: strategy and thresholds, collections per generation, pauses, time in GC, census."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from tui_perf.format import fmt_ms
from tui_perf.views import GCView
from tui_perf.widgets.chart import Chart, ChartSpec, Line
from tui_perf.widgets.managed import ManagedWidget, TableRows, manager_of

OUT_OF_REACH = (
    "The garbage collector is out of reach: this process is watched from outside.\n"
    "Start it with 'tui-perf run' (or call tui_perf.agent.start() in it) to see "
    "its GC here."
)


def fraction_chart(view: GCView | None) -> ChartSpec:
    title = "time in GC (% of wall time, last minute)"
    if view is None or not view.visible:
        return ChartSpec(title)
    xs, ys = view.fraction.points()
    return ChartSpec(title, "seconds before now", (Line("GC %", tuple(xs), tuple(ys), "yellow"),))


class GCPane(ManagedWidget):
    DEFAULT_CSS = """
    GCPane { layout: vertical; height: 1fr; }
    GCPane #gc-top { height: 1fr; }
    GCPane #gc-stats { width: 46; padding: 0 1; }
    GCPane #census { height: 9; }
    GCPane #census-title { height: 1; padding: 0 1; text-style: bold; }
    """

    view: reactive[GCView | None] = reactive(None, init=False)

    def compose(self) -> ComposeResult:
        with Horizontal(id="gc-top"):
            yield Static("", id="gc-stats")
            yield Chart(fraction_chart(None), id="gc-chart")
        yield Static(
            "cyclic garbage census: none yet (command palette: 'GC census')", id="census-title"
        )
        table: DataTable[str] = DataTable(id="census", cursor_type="row")
        table.add_columns("type left in reference cycles", "objects")
        yield table

    def on_mount(self) -> None:
        self._rows = TableRows(self.query_one("#census", DataTable), manager_of(self))

    def on_unmount(self) -> None:
        self._rows.release_all()

    def watch_view(self, view: GCView | None) -> None:
        """Show the collector's state, the time-in-GC chart and the last census."""
        if view is None:
            return
        stats = self.query_one("#gc-stats", Static)
        if not view.visible:
            stats.update(OUT_OF_REACH)
            return
        gens = "\n".join(
            f"  gen {i}  {view.collections[i]:>7} {view.collected[i]:>9} {view.uncollectable[i]:>5}"
            for i in range(len(view.collections))
        )
        stats.update(
            f"[b]strategy[/]   {view.strategy}{' · adaptive' if view.adaptive else ''}"
            f"{'' if view.enabled else ' · [red]GC disabled[/]'}\n"
            f"[b]thresholds[/] {' / '.join(map(str, view.thresholds))}\n"
            f"[b]counts[/]     {' / '.join(map(str, view.counts))}\n"
            f"[b]frozen[/]     {view.frozen} objects\n"
            f"         collections collected uncoll.\n{gens}\n"
            f"[b]pauses[/]     {view.pauses} measured\n"
            f"  p50 {fmt_ms(view.p50_ms)} · p99 {fmt_ms(view.p99_ms)} · "
            f"max {fmt_ms(view.max_ms)}"
        )
        self.query_one("#gc-chart", Chart).show(fraction_chart(view))
        self._rows.sync((name, [name, str(count)]) for name, count in view.census)
        if view.census:
            total = sum(c for _, c in view.census)
            self.query_one("#census-title", Static).update(
                f"cyclic garbage census: {total} objects in cycles at the last census"
            )
