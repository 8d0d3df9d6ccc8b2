"""The widget memory manager, after it was measured: a weakref registry of the dashboard's
live widgets (counts by type on the Overview, dead references dropped by the memory ladder's
rung), and `TableRows`, which sends a table only the cells that changed."""

from __future__ import annotations

import gc
from typing import Any

from rich.console import Console
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from tests.helpers.dashboard import history, settle
from tui_perf.dashboard.app import Dashboard
from tui_perf.dashboard.sources import ScriptedSource
from tui_perf.views.overview import widgets_line
from tui_perf.widgets.managed import ManagedWidget, TableRows, WidgetMemoryManager
from tui_perf.widgets.text import InfoBlock


def test_the_ladders_rung_drops_widgets_collected_without_unmounting() -> None:
    manager = WidgetMemoryManager()
    kept, lost = ManagedWidget(), ManagedWidget()
    manager.track(kept)
    manager.track(lost)
    del lost
    gc.collect()
    freed = manager.reclaim()
    assert (freed.amount, freed.unit) == (1, "entries") and "1 dead widget" in freed.detail
    assert manager.alive() == [kept] and manager.reclaim().amount == 0


async def test_the_overview_counts_the_dashboards_widgets_by_type() -> None:
    app = Dashboard(ScriptedSource(history(2)), chart_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, 2)
        stats = app.widget_manager.stats()
        by_type = dict(stats.by_type)
        assert by_type["Chart"] >= 1 and by_type["InfoBlock"] >= 1
        assert sum(by_type.values()) == stats.alive
        console = Console(width=120, color_system=None)
        with console.capture() as shown:
            console.print(app.query_one("#summary", InfoBlock).render())
        line = next(ln for ln in shown.get().splitlines() if ln.startswith("dashboard"))
        assert line.split(maxsplit=1)[1] == widgets_line(stats)


class CountingTable(DataTable[Any]):
    """A real DataTable that also counts what it was asked to change."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []

    def update_cell(self, row_key: Any, column_key: Any, value: Any, **kw: Any) -> None:
        self.calls.append(("update", str(value)))
        super().update_cell(row_key, column_key, value, **kw)

    def add_row(self, *cells: Any, **kw: Any) -> Any:
        self.calls.append(("add", str(kw.get("key"))))
        return super().add_row(*cells, **kw)

    def remove_row(self, row_key: Any) -> None:
        self.calls.append(("remove", str(row_key)))
        super().remove_row(row_key)


async def test_table_rows_send_only_the_cells_that_changed() -> None:
    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield CountingTable()

    app = One()
    async with app.run_test() as pilot:
        table = app.query_one(CountingTable)
        table.add_columns("cache", "hits", "misses")
        rows = TableRows(table)
        assert rows.sync([("a", ["a", "1", "0"]), ("b", ["b", "5", "2"])])
        assert table.calls == [("add", "a"), ("add", "b")]
        table.calls.clear()
        assert not rows.sync([("a", ["a", "1", "0"]), ("b", ["b", "5", "2"])])  # unchanged
        assert table.calls == []
        assert rows.sync([("a", ["a", "1", "0"]), ("b", ["b", "6", "2"])])
        assert table.calls == [("update", "6")]  # one cell of one row
        table.calls.clear()
        assert rows.sync([("b", ["b", "6", "2"])])
        assert table.calls == [("remove", "a")]
        await pilot.pause()
        assert table.row_count == 1 and [str(c) for c in table.get_row("b")] == ["b", "6", "2"]
