"""What the dashboard says when its source changes state: the target exited, the
connection was lost or came back.

A mixin of the `Dashboard`: it writes the app's banner, its history's events and the tabs'
stale look, which are the App's own.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual.app import App
from textual.widgets import Static, TabbedContent

from tui_perf.model.snapshot import Event

if TYPE_CHECKING:
    from tui_perf.dashboard.sources import Source
    from tui_perf.views.history import History


class SourceStatus(App[None]):
    """The banner over the panes, and the greying of stale numbers."""

    history: History
    source: Source
    target_ended: str
    _tabs: TabbedContent

    if TYPE_CHECKING:

        def refresh_view(self, pane: str | None = None) -> None: ...

    def show_source_status(self, status: str) -> None:
        """The target's fate in a banner that stays (not a toast that goes), the numbers
        greyed while they are stale, and the moment kept as an event."""
        banner = self.query_one("#banner", Static)
        latest = self.history.latest
        # The last numbers' own time: what is on screen is from then (and tests can pin it).
        at = time.localtime(latest.timestamp if latest is not None else time.time())
        now = time.strftime("%H:%M:%S", at)
        ended = status.startswith("target exited") or status == "the source has no more snapshots"
        lost = status.startswith("connection lost")
        if ended or lost:
            self.history.events.append(Event(time.time(), "target", status, "error"))
            self.refresh_view("events")
        if ended:
            self.target_ended = status
            banner.update(f"{status} · last numbers from {now} · history kept · q quits")
            banner.set_class(False, "-lost")
            banner.display = True
            self._tabs.add_class("-stale")
            self.refresh_bindings()
        elif lost:
            banner.update(f"{status} · the numbers below are from {now}")
            banner.set_class(True, "-lost")
            banner.display = True
            self._tabs.add_class("-stale")
        elif status.startswith("reconnected"):
            banner.display = False
            self._tabs.remove_class("-stale")
            self.notify(status, title="source", timeout=4)
        else:
            self.notify(status, title="source", severity="warning", timeout=10)
        self.sub_title = self.source.description
