"""Advice: the findings, worst first; the selected one's evidence, action and estimate; the
predicted hit-rate curve of its cache. Enter takes the selected finding's action."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.coordinate import Coordinate
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from tui_perf.views.advice import AdviceView, curve_points
from tui_perf.views.columns import columns_that_fit
from tui_perf.widgets.chart import Chart, ChartSpec, Line
from tui_perf.widgets.managed import ManagedWidget, TableRows

EMPTY = (
    "No findings: the rules see nothing to act on. Each rule judges a window of 30 s or "
    "more, and says nothing when it cannot tell."
)
OUT_OF_REACH = (
    "Advice is made inside the watched process, out of reach from outside. Run it with "
    "'tui-perf run', or call tui_perf.agent.start() in it, to see it."
)
COLUMNS = ("severity", "finding", "action")
DROP_FIRST = ("action",)


class AdvicePane(ManagedWidget):
    DEFAULT_CSS = """
    AdvicePane { layout: vertical; height: 1fr; }
    AdvicePane #advice-status { height: 1; padding: 0 1; color: $text-muted; }
    AdvicePane #advice-tuning { height: auto; max-height: 4; padding: 0 1; color: $text-muted; }
    AdvicePane #advice-empty { padding: 1 2; color: $text-muted; height: auto; }
    AdvicePane #advice-table { height: auto; min-height: 2; max-height: 7; }
    AdvicePane #advice-detail { height: auto; max-height: 14; padding: 0 1; overflow-y: auto; }
    AdvicePane #advice-chart { height: 1fr; min-height: 5; }
    """

    class Apply(Message):
        """Enter on a finding: take its action (the app sends it to the source)."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    view: reactive[AdviceView | None] = reactive(None, init=False, repaint=False)

    def compose(self) -> ComposeResult:
        yield Static("", id="advice-status", markup=False)
        yield Static("", id="advice-tuning", markup=False)
        yield Static(EMPTY, id="advice-empty")
        table: DataTable[str] = DataTable(id="advice-table", cursor_type="row", zebra_stripes=True)
        for label in COLUMNS:
            table.add_column(label, key=label)
        yield table
        yield Static("", id="advice-detail", markup=False)
        yield Chart(ChartSpec("predicted hit rate (%) by size"), id="advice-chart")

    def on_mount(self) -> None:
        self._rows = TableRows(self.query_one("#advice-table", DataTable), COLUMNS)

    def on_resize(self) -> None:
        if self.view is not None:
            self._show(self.view)

    @property
    def selected_finding(self) -> str:
        table = self.query_one("#advice-table", DataTable)
        if table.row_count == 0:
            return ""
        return table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value or ""

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value:
            self.post_message(self.Apply(event.row_key.value))

    def watch_view(self, view: AdviceView | None) -> None:
        if view is not None:
            self._show(view)

    def _show(self, view: AdviceView) -> None:
        status = self.query_one("#advice-status", Static)
        status.update(view.status or "advice: waiting for the first window")
        tuning = self.query_one("#advice-tuning", Static)
        width = max(20, self.size.width - 2)
        tuning.update("\n".join(_cut(line, width) for line in view.tuning))
        tuning.display = bool(view.tuning)
        empty = not view.rows
        notice = self.query_one("#advice-empty", Static)
        notice.display = empty
        if empty and not getattr(getattr(self.app, "source", None), "local_interpreter", True):
            notice.update(OUT_OF_REACH)
        table = self.query_one("#advice-table", DataTable)
        table.display = not empty
        # a title wider than the pane would put a scrollbar over the next row: cut it
        room = max(20, self.size.width - 16)
        rows = [(r.key, [r.severity, _cut(r.title, room), r.action or "—"]) for r in view.rows]
        self._rows.show_columns(
            columns_that_fit(COLUMNS, DROP_FIRST, [c for _, c in rows], self.size.width)
        )
        self._rows.sync(rows)
        detail = self.query_one("#advice-detail", Static)
        lines = list(view.detail[1:])  # the title is the row above
        if view.action:
            lines.append(f"  Enter: {view.action}")
        detail.update("\n".join(lines))
        detail.display = bool(lines)
        chart = self.query_one("#advice-chart", Chart)
        # a short terminal gives its lines to the evidence: the chart needs ten to be read
        chart.display = view.curve is not None and self.size.height >= 30
        if view.curve is not None:
            xs, ys, ticks = curve_points(view.curve)
            chart.show(
                ChartSpec(
                    f"predicted hit rate (%) by size · {escape(view.curve.cache)} "
                    f"(now {view.curve.current_size:,}; {view.curve.sampled:,} lookups sampled)",
                    "entries (the yellow line: the size now)",
                    (Line("predicted %", xs, ys, "green"),),
                    ylim=(0, 100),
                    vlines=((0.0, "yellow"),),
                    xticks=ticks,
                )
            )


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
