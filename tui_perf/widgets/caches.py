"""Caches: one row per cache and tier, sortable, and the selected cache's hit-rate history."""

from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape
from textual.app import ComposeResult
from textual.coordinate import Coordinate
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from tui_perf.model.format import fmt_percent
from tui_perf.views.caches import CACHE_SORTS, CacheRow, tiers_down
from tui_perf.views.columns import columns_that_fit
from tui_perf.views.history import TIME_AXIS, Series
from tui_perf.widgets.chart import Chart, ChartSpec, Line
from tui_perf.widgets.managed import ManagedWidget, TableRows

EMPTY = (
    "No caches registered. Decorate a function with @tui_perf.cached, or create a "
    "tui_perf.MultiLevelCache: it shows up here by itself."
)
OUT_OF_REACH = (
    "Caches live inside the watched process, out of reach from outside. Run it "
    "with 'tui-perf run', or call tui_perf.agent.start() in it, to see them."
)
SORTS = CACHE_SORTS  # the one list, in views (the app cycles it without this module)


@dataclass(frozen=True, slots=True)
class CachesView:
    rows: tuple[CacheRow, ...]
    selected: str
    history: Series


COLUMNS = ("cache", "tier", "kind", "hits", "misses", "hit rate", "size", "evictions", "expired")
#: what a narrow terminal gives up first (the rest says more per column)
DROP_FIRST = ("misses", "kind", "size", "evictions")


class CachesPane(ManagedWidget):
    DEFAULT_CSS = """
    CachesPane { layout: vertical; height: 1fr; }
    CachesPane #caches-table { height: 1fr; min-height: 5; }
    CachesPane #caches-empty { padding: 1 2; color: $text-muted; }
    CachesPane #caches-help { height: 1; padding: 0 1; color: $text-muted; }
    CachesPane #caches-down { height: auto; padding: 0 1; color: $error; }
    """

    view: reactive[CachesView | None] = reactive(None, init=False, repaint=False)
    sort: reactive[str] = reactive("name", init=False)

    def compose(self) -> ComposeResult:
        yield Static(EMPTY, id="caches-empty")
        table: DataTable[str] = DataTable(id="caches-table", cursor_type="row", zebra_stripes=True)
        for label in COLUMNS:
            table.add_column(label, key=label)
        yield table
        down = Static("", id="caches-down", markup=False)
        down.display = False
        yield down
        yield Static(
            "sort: name (o to change) · ↑↓ picks the cache charted below", id="caches-help"
        )
        yield Chart(ChartSpec("hit rate (%) per interval"), id="caches-chart")

    def on_mount(self) -> None:
        table = self.query_one("#caches-table", DataTable)
        self._rows = TableRows(table, COLUMNS)

    def on_resize(self) -> None:
        """A new width may fit more columns, or fewer."""
        if self.view is not None:
            self._show(self.view)

    @property
    def selected_cache(self) -> str:
        table = self.query_one("#caches-table", DataTable)
        if table.row_count == 0:
            return ""
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value or ""
        return key.rsplit("/", 1)[0]

    def watch_sort(self, sort: str) -> None:
        """Re-order the rows and say how they are sorted."""
        self.query_one("#caches-help", Static).update(
            f"sort: {sort} (o to change) · ↑↓ picks the cache charted below"
        )
        if self.view is not None:
            self._show(self.view)

    def watch_view(self, view: CachesView | None) -> None:
        """Update rows in place and the selected cache's chart."""
        if view is not None:
            self._show(view)

    def _show(self, view: CachesView) -> None:
        empty = not view.rows
        notice = self.query_one("#caches-empty", Static)
        notice.display = empty
        if empty and not getattr(getattr(self.app, "source", None), "local_interpreter", True):
            notice.update(OUT_OF_REACH)
        self.query_one("#caches-help").display = not empty
        self.query_one("#caches-chart").display = not empty
        table = self.query_one("#caches-table", DataTable)
        table.display = not empty
        rows = [
            (
                r.key,
                [
                    r.cache,
                    r.level,
                    r.kind if r.state == "up" else f"{r.kind} DOWN",
                    f"{r.hits:,}",
                    f"{r.misses:,}",
                    fmt_percent(r.hit_rate),
                    f"{r.size:,}" + (f"/{r.maxsize:,}" if r.maxsize else ""),
                    f"{r.evictions:,}",
                    f"{r.expirations:,}",
                ],
            )
            for r in view.rows
        ]
        self._rows.show_columns(
            columns_that_fit(COLUMNS, DROP_FIRST, [cells for _, cells in rows], self.size.width)
        )
        self._rows.sync(rows)
        down_lines = tiers_down(view.rows)
        down = self.query_one("#caches-down", Static)
        down.display = bool(down_lines)
        if down_lines:
            down.update("\n".join(down_lines))
        xs, ys = view.history.points()
        title = (
            f"hit rate (%) per interval · {escape(view.selected)}"
            if view.selected
            else ("hit rate (%) per interval")
        )
        self.query_one("#caches-chart", Chart).show(
            ChartSpec(
                title,
                TIME_AXIS,
                (Line("hit %", tuple(xs), tuple(ys), "green"),) if xs else (),
                ylim=(0, 100),
            )
        )
