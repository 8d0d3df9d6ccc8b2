"""Profile: where the time goes (a `py-spy top`-like table), `@profile` timings, allocations.

The first line always states the sampler's rate and its measured cost. Keys: `p` starts or
stops sampling in the watched process, `o` sorts by own or total time, `f` writes a flame
graph file, `m` marks the heap for allocation growth.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from tui_perf.model.format import fmt_bytes, fmt_percent, fmt_seconds
from tui_perf.views.columns import columns_that_fit
from tui_perf.views.profile import ProfileView
from tui_perf.widgets.managed import ManagedWidget, TableRows

FUNCTION_COLUMNS = ("own %", "total %", "own time", "total time", "function", "file:line")
TIMING_COLUMNS = ("@profile", "calls", "err/cancel", "mean", "p50", "p95", "p99", "total")
#: what a narrow terminal gives up first in the timings table: p95, p99 and total stay
TIMINGS_DROP_FIRST = ("p50", "mean", "err/cancel")
ALLOC_COLUMNS = ("allocated at", "size", "blocks", "growth since mark")
NO_TIMINGS = "no @profile timings: decorate a function with tui_perf.profile to see its calls"


def _time(seconds: float) -> str:
    return fmt_seconds(seconds) if seconds else "0"


class ProfilePane(ManagedWidget):
    DEFAULT_CSS = """
    ProfilePane { layout: vertical; height: 1fr; }
    ProfilePane #profile-status { height: 1; padding: 0 1; }
    ProfilePane #profile-table { height: 1fr; min-height: 5; }
    ProfilePane #timings-table { height: auto; max-height: 8; }
    ProfilePane #timings-empty { height: 1; padding: 0 1; color: $text-muted; }
    ProfilePane #alloc-status { height: 1; padding: 0 1; }
    ProfilePane #alloc-table { height: auto; max-height: 8; }
    """

    view: reactive[ProfileView | None] = reactive(None, init=False, repaint=False)
    sort: reactive[str] = reactive("own", init=False)

    def compose(self) -> ComposeResult:
        yield Static("sampler off · press p to sample the watched process", id="profile-status")
        for table_id, columns in (
            ("profile-table", FUNCTION_COLUMNS),
            ("timings-table", TIMING_COLUMNS),
        ):
            table: DataTable[str] = DataTable(id=table_id, cursor_type="row", zebra_stripes=True)
            for label in columns:
                table.add_column(label, key=label)
            yield table
        yield Static(NO_TIMINGS, id="timings-empty")
        yield Static("", id="alloc-status")
        alloc: DataTable[str] = DataTable(id="alloc-table", cursor_type="row", zebra_stripes=True)
        for label in ALLOC_COLUMNS:
            alloc.add_column(label, key=label)
        yield alloc

    def on_mount(self) -> None:
        self._functions = TableRows(self.query_one("#profile-table", DataTable))
        self._timings = TableRows(self.query_one("#timings-table", DataTable), TIMING_COLUMNS)
        self._alloc = TableRows(self.query_one("#alloc-table", DataTable))
        self.query_one("#alloc-status").display = False
        self.query_one("#alloc-table").display = False
        self.query_one("#timings-table").display = False

    def on_resize(self) -> None:
        """A new width may fit more columns, or fewer."""
        self.watch_view(self.view)

    def watch_view(self, view: ProfileView | None) -> None:
        if view is None:
            return
        status = view.status + (f" · sorted by {self.sort} (o)" if view.rows else "")
        if view.notes:
            status += " · " + view.notes[-1]
        self.query_one("#profile-status", Static).update(Text(status))
        self._functions.sync(
            (
                f"{r.function}@{r.where}",
                [
                    fmt_percent(r.own_share),
                    fmt_percent(r.total_share),
                    _time(r.own_s),
                    _time(r.total_s),
                    Text(r.function, style="bold" if r.own_share >= 0.1 else ""),
                    Text(r.where, style="dim"),
                ],
            )
            for r in view.rows
        )
        self.query_one("#timings-table").display = bool(view.timings)
        self.query_one("#timings-empty").display = not view.timings
        timing_rows: list[tuple[str, list[str | Text]]] = [
            (
                t.name,
                [
                    t.name + (" (wall, across awaits)" if t.kind == "async" else ""),
                    str(t.calls),
                    Text(f"{t.errors}/{t.cancelled}", style="red" if t.errors else ""),
                    _time(t.mean_s),
                    _time(t.p50_s),
                    _time(t.p95_s),
                    _time(t.p99_s),
                    _time(t.total_s),
                ],
            )
            for t in view.timings
        ]
        plain = [[c.plain if isinstance(c, Text) else c for c in cells] for _, cells in timing_rows]
        self._timings.show_columns(
            columns_that_fit(TIMING_COLUMNS, TIMINGS_DROP_FIRST, plain, self.size.width)
        )
        self._timings.sync(timing_rows)
        self._show_alloc(view)

    def _show_alloc(self, view: ProfileView) -> None:
        alloc = view.alloc
        status = self.query_one("#alloc-status", Static)
        table = self.query_one("#alloc-table")
        status.display = table.display = alloc is not None
        if alloc is None:
            self._alloc.sync(())
            return
        if alloc.marked_at is not None:
            since = datetime.fromtimestamp(alloc.marked_at).strftime("%H:%M:%S")
            head = (
                f"allocations traced {fmt_bytes(alloc.traced)} · grew since you pressed m ({since})"
            )
            sites = alloc.growth
        else:
            head = f"allocations traced {fmt_bytes(alloc.traced)} · top sites · m marks a point"
            sites = alloc.top
        if alloc.traceback:
            head += f" · biggest from {alloc.traceback[0]}"
        status.update(Text(head))
        self._alloc.sync(
            (
                f"{s.file}:{s.line}",
                [
                    f"{s.file.rsplit('/', 1)[-1]}:{s.line}",
                    fmt_bytes(s.size),
                    str(s.count),
                    f"+{fmt_bytes(s.size_diff)}" if alloc.marked_at is not None else "—",
                ],
            )
            for s in sites
        )
