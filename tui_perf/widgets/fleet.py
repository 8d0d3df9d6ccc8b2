"""`tui-perf top`: one row per process, most worrying first, gone ones greyed at the end."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from tui_perf.views.columns import columns_that_fit
from tui_perf.views.fleet import COLUMNS, DROP_FIRST, FleetRow, fleet_summary
from tui_perf.widgets.managed import ManagedWidget, TableRows

TIER_STYLES = {"ELEVATED": "yellow", "HIGH": "bold dark_orange", "CRITICAL": "bold red"}
FINDING_STYLES = {1: "yellow", 2: "bold red"}


class FleetPane(ManagedWidget):
    DEFAULT_CSS = """
    FleetPane { layout: vertical; height: 1fr; }
    FleetPane #fleet-summary { padding: 0 1; color: $text-muted; height: auto; }
    FleetPane #fleet-table { height: 1fr; }
    """

    #: (rows in the order shown, the sort key, reversed)
    view: reactive[tuple[tuple[FleetRow, ...], str, bool] | None] = reactive(
        None, init=False, repaint=False
    )

    def compose(self) -> ComposeResult:
        yield Static("looking for agents…", id="fleet-summary")
        table: DataTable[str] = DataTable(id="fleet-table", cursor_type="row", zebra_stripes=True)
        for label in COLUMNS:
            table.add_column(label, key=label)
        yield table

    #: the row to put the cursor on when it appears (coming back from a dashboard)
    wanted: str | None = None

    def on_mount(self) -> None:
        self._rows = TableRows(self.query_one("#fleet-table", DataTable), COLUMNS)

    def on_resize(self) -> None:
        self.watch_view(self.view)

    def selected(self) -> str | None:
        """The key (address) of the row under the cursor."""
        table = self.query_one("#fleet-table", DataTable)
        if table.row_count == 0:
            return None
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return key.value

    def watch_view(self, view: tuple[tuple[FleetRow, ...], str, bool] | None) -> None:
        if view is None:
            return
        rows, sort, reverse = view
        self.query_one("#fleet-summary", Static).update(Text(fleet_summary(rows, sort, reverse)))
        plain = [r.cells() for r in rows]
        shown = [(r.key, styled(r, cells)) for r, cells in zip(rows, plain, strict=True)]
        self._rows.show_columns(columns_that_fit(COLUMNS, DROP_FIRST, plain, self.size.width))
        chosen = self.selected() or self.wanted
        self._rows.sync(shown)
        # the cursor stays on its process when the rows re-sort, so Enter opens the one the
        # person picked rather than whichever moved under the cursor
        table = self.query_one("#fleet-table", DataTable)
        if chosen is not None and chosen in table.rows:
            index = table.get_row_index(chosen)
            if index != table.cursor_row:
                table.move_cursor(row=index, animate=False)


def styled(row: FleetRow, text: list[str]) -> Sequence[str | Text]:
    """`row.cells()` (given, made once a redraw) with the styles that carry meaning."""
    cells: list[str | Text] = list(text)
    if row.status == "gone":
        return [Text(c if isinstance(c, str) else c.plain, style="dim strike") for c in cells]
    tier_at = COLUMNS.index("tier")
    if row.tier in TIER_STYLES:
        cells[tier_at] = Text(row.tier, style=TIER_STYLES[row.tier])
    if row.finding_rank in FINDING_STYLES:
        at = COLUMNS.index("advice")
        cells[at] = Text(str(cells[at]), style=FINDING_STYLES[row.finding_rank])
    if row.pools_bad:
        at = COLUMNS.index("pools")
        cells[at] = Text(str(cells[at]), style="bold red")
    if row.status != "live":
        at = COLUMNS.index("status")
        cells[at] = Text(str(cells[at]), style="yellow")
    return cells
