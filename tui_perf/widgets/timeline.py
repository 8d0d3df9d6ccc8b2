"""The replay timeline: the whole recording in one bar, coloured by tier, with its events
and the cursor, and a line saying where the cursor is and which keys move it."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import RenderableType
from rich.text import Text
from textual.reactive import reactive

from tui_perf.model.snapshot import Event
from tui_perf.views.replay import (
    Cell,
    Position,
    TimelineView,
    timeline_cells,
    timeline_view,
)
from tui_perf.widgets.managed import ManagedWidget

TIER_STYLES = {"NORMAL": "green", "ELEVATED": "yellow", "HIGH": "dark_orange", "CRITICAL": "red"}
EVENT_MARKS = {"info": ("╹", "bright_blue"), "warning": ("◆", "yellow"), "error": ("◆", "red")}


class Timeline(ManagedWidget):
    DEFAULT_CSS = """
    Timeline { height: 2; padding: 0 1; background: $boost; }
    """

    position: reactive[Position | None] = reactive(None, init=False)

    def __init__(
        self,
        times: Sequence[float],
        tiers: Sequence[str],
        events: Sequence[Event],
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._times, self._tiers, self._events = times, tiers, events
        # the bar for the last width drawn: a day of frames takes ~30 ms to fold into columns
        self._cells: tuple[int, tuple[Cell, ...]] | None = None

    def watch_position(self, position: Position | None) -> None:
        self.refresh()

    def view(self) -> TimelineView | None:
        if self.position is None:
            return None
        width = max(1, self.content_size.width)
        if self._cells is None or self._cells[0] != width:
            cells = timeline_cells(self._times, self._tiers, self._events, width)
            self._cells = (width, cells)
        return timeline_view(self._times, self._cells[1], self.position)

    def render(self) -> RenderableType:
        view = self.view()
        if view is None:
            return Text("opening the recording…")
        bar = Text(no_wrap=True, overflow="crop")
        for i, cell in enumerate(view.cells):
            char, style = "━", TIER_STYLES.get(cell.tier, "dim")
            if not cell.tier:
                char = " "
            if cell.event:
                char, style = EVENT_MARKS.get(cell.event, EVENT_MARKS["info"])
            if i == view.cursor:
                char, style = "┃", "bold reverse"
            bar.append(char, style=style)
        bar.append("\n")
        bar.append(view.label, style="dim")
        return bar
