"""Pools: one row per pool, unhealthy ones first, with the reason."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from tui_perf.model.format import fmt_ms, fmt_percent
from tui_perf.model.snapshot import PoolStats
from tui_perf.views.columns import columns_that_fit
from tui_perf.widgets.managed import ManagedWidget, TableRows

EMPTY = (
    "No pools registered. Create a tui_perf.ObjectPool or ConnectionPool: it shows up "
    "here by itself."
)


OUT_OF_REACH = (
    "Pools live inside the watched process, out of reach from outside. Run it "
    "with 'tui-perf run', or call tui_perf.agent.start() in it, to see them."
)


COLUMNS = (
    "pool",
    "health",
    "kind",
    "in use",
    "idle",
    "reuse",
    "waits",
    "p95 wait",
    "timeouts",
    "leaks",
)
#: what a narrow terminal gives up first: timeouts and leaks are why people look here
DROP_FIRST = ("kind", "reuse", "idle", "waits")


class PoolsPane(ManagedWidget):
    DEFAULT_CSS = """
    PoolsPane { layout: vertical; height: 1fr; }
    PoolsPane #pools-table { height: 1fr; }
    PoolsPane #pools-empty { padding: 1 2; color: $text-muted; }
    """

    view: reactive[tuple[PoolStats, ...] | None] = reactive(None, init=False, repaint=False)

    def compose(self) -> ComposeResult:
        yield Static(EMPTY, id="pools-empty")
        table: DataTable[str] = DataTable(id="pools-table", cursor_type="row", zebra_stripes=True)
        for label in COLUMNS:
            table.add_column(label, key=label)
        yield table

    def on_mount(self) -> None:
        table = self.query_one("#pools-table", DataTable)
        self._rows = TableRows(table, COLUMNS)

    def on_resize(self) -> None:
        """A new width may fit more columns, or fewer."""
        self.watch_view(self.view)

    def watch_view(self, view: tuple[PoolStats, ...] | None) -> None:
        """Update the rows in place; say why a pool is unhealthy."""
        if view is None:
            return
        notice = self.query_one("#pools-empty", Static)
        notice.display = not view
        if not view and not getattr(getattr(self.app, "source", None), "local_interpreter", True):
            notice.update(OUT_OF_REACH)
        table = self.query_one("#pools-table", DataTable)
        table.display = bool(view)
        rows: list[tuple[str, list[str | Text]]] = [
            (
                p.name,
                [
                    p.name,
                    Text("ok") if p.healthy else Text(p.reason, style="bold red"),
                    p.kind,
                    str(p.in_use),
                    str(p.idle),
                    fmt_percent(p.reuse_rate, 0),
                    str(p.waits),
                    fmt_ms(p.wait_p95_ms) if p.waits or p.wait_p95_ms else "—",
                    str(p.timeouts),
                    Text(str(p.leaks), style="bold red" if p.leaks else ""),
                ],
            )
            for p in view
        ]
        plain = [[c.plain if isinstance(c, Text) else c for c in cells] for _, cells in rows]
        self._rows.show_columns(columns_that_fit(COLUMNS, DROP_FIRST, plain, self.size.width))
        self._rows.sync(rows)
