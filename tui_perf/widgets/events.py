"""Events: tier changes, strategy switches, cleanups, verdicts, errors, as a log."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widgets import DataTable, Input

from tui_perf.model.snapshot import Event
from tui_perf.views.events import filter_events
from tui_perf.widgets.managed import ManagedWidget

LEVEL_STYLE = {"warning": "yellow", "error": "red"}


class EventsFilter(Input):
    """The filter box: typing goes here, so escape (or enter) hands the keys back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Leave the filter", show=False)
    ]

    def action_leave(self) -> None:
        self.screen.set_focus(None)

    def on_input_submitted(self) -> None:
        self.action_leave()


class EventsPane(ManagedWidget):
    DEFAULT_CSS = """
    EventsPane { layout: vertical; height: 1fr; }
    EventsPane #events-filter { height: 3; }
    EventsPane #events-table { height: 1fr; }
    """

    view: reactive[tuple[Event, ...]] = reactive((), init=False, repaint=False)
    filter_text: reactive[str] = reactive("", init=False)

    def compose(self) -> ComposeResult:
        yield EventsFilter(
            placeholder="filter events (kind, level or text) · escape: back to the keys",
            id="events-filter",
        )
        table: DataTable[str] = DataTable(id="events-table", cursor_type="row", zebra_stripes=True)
        for label in ("time", "kind", "level", "message"):
            table.add_column(label, key=label)
        yield table

    def on_mount(self) -> None:
        self._last: Event | None = None  # the newest event already considered

    def on_input_changed(self, event: Input.Changed) -> None:
        """Filter as the person types."""
        self.filter_text = event.value

    def watch_filter_text(self) -> None:
        """A new filter: rebuild the table once."""
        self.query_one("#events-table", DataTable).clear()
        self._last = None
        self._append()

    def watch_view(self) -> None:
        """New events arrived: add only those."""
        self._append()

    def _append(self) -> None:
        table = self.query_one("#events-table", DataTable)
        events = self.view
        new: list[Event] = []
        for e in reversed(events):  # the history is bounded: find what came after the last
            if e is self._last:
                break
            new.append(e)
        else:
            if self._last is not None:  # the history went back (a replay's cursor): start over
                table.clear()
        new.reverse()
        if events:
            self._last = events[-1]
        # filter_events returns newest first; the table reads oldest to newest, like a log.
        for e in reversed(filter_events(new, self.filter_text, limit=len(new) or 1)):
            style = LEVEL_STYLE.get(e.level)
            level = Text(e.level, style=style or "")
            table.add_row(
                datetime.fromtimestamp(e.timestamp).strftime("%H:%M:%S"),
                Text(e.kind),
                level,
                Text(e.message),
            )
        if new and table.row_count:
            table.move_cursor(row=table.row_count - 1)
