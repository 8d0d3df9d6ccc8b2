"""Benchmarks: results with verdicts, a progress bar while a run is under way, a trend chart."""

from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.coordinate import Coordinate
from textual.reactive import reactive
from textual.widgets import DataTable, ProgressBar, Static

from tui_perf.model.format import fmt_seconds
from tui_perf.views.bench import BenchView
from tui_perf.widgets.chart import Chart, ChartSpec, Line
from tui_perf.widgets.managed import ManagedWidget, TableRows


@dataclass(frozen=True, slots=True)
class BenchPaneView:
    bench: BenchView
    selected: str
    trend: tuple[tuple[float, ...], tuple[float, ...]]


class BenchPane(ManagedWidget):
    DEFAULT_CSS = """
    BenchPane { layout: vertical; height: 1fr; }
    BenchPane #bench-status { height: 1; padding: 0 1; }
    BenchPane #bench-progress { height: 1; padding: 0 1; }
    BenchPane #bench-table { height: 1fr; min-height: 5; }
    BenchPane #bench-why { height: auto; max-height: 2; padding: 0 1; color: $text-muted; }
    """

    view: reactive[BenchPaneView | None] = reactive(None, init=False, repaint=False)

    def compose(self) -> ComposeResult:
        yield Static(
            "no benchmark run yet: press b to run the built-in suite (quick)", id="bench-status"
        )
        yield ProgressBar(id="bench-progress", show_eta=False)
        table: DataTable[str] = DataTable(id="bench-table", cursor_type="row", zebra_stripes=True)
        for label in ("benchmark", "median", "runs", "vs history [95% interval]"):
            table.add_column(label, key=label)
        yield table
        yield Static("", id="bench-why")
        yield Chart(ChartSpec("median per run (µs)"), id="bench-chart")

    def on_mount(self) -> None:
        self._rows = TableRows(self.query_one("#bench-table", DataTable))
        self.query_one(ProgressBar).display = False
        if self.view is not None:  # handed a view between attach and mount: show it now
            self.watch_view(self.view)

    @property
    def selected_benchmark(self) -> str:
        table = self.query_one("#bench-table", DataTable)
        if table.row_count == 0:
            return ""
        return str(
            table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value or ""
        )

    def watch_view(self, view: BenchPaneView | None) -> None:
        """Show progress while running, then the results and the selected trend."""
        if view is None or not hasattr(self, "_rows"):
            return  # not mounted yet: on_mount shows it
        b = view.bench
        bar = self.query_one(ProgressBar)
        status = self.query_one("#bench-status", Static)
        if b.progress is not None:
            bar.display = True
            bar.update(total=b.progress.total, progress=b.progress.done)
            status.update(f"running: {escape(b.progress.current)}")
        else:
            bar.display = False
            failed = f" · {'; '.join(b.failed)}" if b.failed else ""
            if b.rows or b.failed:
                status.update(escape(f"last run: {b.last_verdict or 'done'}{failed}"))

        def colour(verdict: str) -> Text:
            if verdict.startswith("slower"):
                return Text(verdict, style="red")
            if verdict.startswith("faster"):
                return Text(verdict, style="green")
            if verdict.startswith("unclear"):
                return Text(verdict, style="yellow")
            return Text(verdict) if verdict else Text("an earlier run", style="dim")

        self._rows.sync(
            (r.name, [r.name, fmt_seconds(r.median_s), str(r.runs), colour(r.verdict_short)])
            for r in b.rows
        )
        # The whole verdict, why included, for the row under the cursor.
        chosen = next((r for r in b.rows if r.name == view.selected), None)
        why = self.query_one("#bench-why", Static)
        why.update(escape(f"{chosen.name}: {chosen.verdict}") if chosen and chosen.verdict else "")
        xs, ys = view.trend
        self.query_one("#bench-chart", Chart).show(
            ChartSpec(
                f"median per run (µs) · {escape(view.selected)}"
                if view.selected
                else "median per run (µs)",
                "run",
                (Line("median", xs, ys, "cyan"),) if xs else (),
                integer_x=True,
            )
        )
