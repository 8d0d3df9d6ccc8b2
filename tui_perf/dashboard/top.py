"""`tui-perf top`: one screen over every agent of this user and any `HOST:PORT` given.

The table is redrawn once a second from each member's latest snapshot (not at every
snapshot: fifty agents at 1 Hz would be fifty redraws a second). Enter leaves this app with
the chosen address; the command line then opens the full dashboard on it, and comes back
here when Escape is pressed there.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Header

from tui_perf.dashboard.fleet import Fleet
from tui_perf.views.fleet import SORTS, FleetRow, fleet_row, sort_rows
from tui_perf.widgets.fleet import FleetPane


class TopApp(App[str | None]):
    """Returns the address to open, or None to quit."""

    TITLE = "tui-perf top"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("enter", "open", "Open", priority=True),
        Binding("s", "sort", "Sort"),
        Binding("r", "reverse", "Reverse"),
    ]

    def __init__(
        self,
        fleet: Fleet,
        *,
        sort: str = "tier",
        reverse: bool = False,
        refresh_s: float = 1.0,
        select: str | None = None,
    ) -> None:
        super().__init__()
        self.fleet = fleet
        self.select = select
        self.sort = sort
        self.reverse = reverse
        self.refresh_s = refresh_s
        self.rows: tuple[FleetRow, ...] = ()
        self.sub_title = "every agent of this user" if fleet.discover else ""

    def compose(self) -> ComposeResult:
        yield Header(icon="◈")
        pane = FleetPane(id="fleet")
        pane.wanted = self.select
        yield pane
        yield Footer()

    async def on_mount(self) -> None:
        await self.fleet.start()
        self.redraw()
        self.set_interval(self.refresh_s, self.redraw)

    async def on_unmount(self) -> None:
        await self.fleet.close()

    def redraw(self) -> None:
        rows = [fleet_row(v) for v in self.fleet.views()]
        self.rows = tuple(sort_rows(rows, self.sort, self.reverse))
        self.query_one(FleetPane).view = (self.rows, self.sort, self.reverse)

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.redraw()

    def action_reverse(self) -> None:
        self.reverse = not self.reverse
        self.redraw()

    def action_open(self) -> None:
        key = self.query_one(FleetPane).selected()
        row = next((r for r in self.rows if r.key == key), None)
        if row is None:
            return
        if row.status == "gone":
            self.notify(f"pid {row.pid} is gone: nothing to open", severity="warning")
            return
        if row.status == "connecting":
            self.notify(f"not connected yet: {row.status_text}", severity="warning")
            return
        self.exit(row.key)
