"""The dashboard's panes, each made the first time its tab is shown.

A person opens the dashboard on the Overview and may never visit the Advice or Profile
panes. Composing all nine at start cost their modules' imports, their widgets and their
first layout before the first frame (0.6 s, and 4 MiB that stayed). So only the first pane is
composed; the others' modules are imported, and their widgets mounted into their (empty)
tabs, when the tab is first activated.
"""

from __future__ import annotations

import importlib
from typing import Any

from textual.widget import Widget
from textual.widgets import TabPane

PANES = ("overview", "memory", "gc", "caches", "pools", "bench", "events", "profile", "advice")
TITLES = (
    "Overview",
    "Memory",
    "GC",
    "Caches",
    "Pools",
    "Benchmarks",
    "Events",
    "Profile",
    "Advice",
)
#: where each pane's widget class lives
_CLASSES = {
    "overview": ("tui_perf.widgets.overview", "OverviewPane"),
    "memory": ("tui_perf.widgets.memory", "MemoryPane"),
    "gc": ("tui_perf.widgets.gc", "GCPane"),
    "caches": ("tui_perf.widgets.caches", "CachesPane"),
    "pools": ("tui_perf.widgets.pools", "PoolsPane"),
    "bench": ("tui_perf.widgets.bench", "BenchPane"),
    "events": ("tui_perf.widgets.events", "EventsPane"),
    "profile": ("tui_perf.widgets.profile", "ProfilePane"),
    "advice": ("tui_perf.widgets.advice", "AdvicePane"),
}


def pane_class(pane: str) -> type[Widget]:
    module, name = _CLASSES[pane]
    cls: type[Widget] = getattr(importlib.import_module(module), name)
    return cls


class LazyPanes:
    """The pane widgets made so far, by pane id."""

    def __init__(self) -> None:
        self._made: dict[str, Widget] = {}

    def make(self, pane: str) -> Widget:
        """A new widget for `pane`, kept (for compose, or for `show`)."""
        widget = pane_class(pane)(id=f"{pane}-pane")
        self._made[pane] = widget
        return widget

    def get(self, pane: str) -> Any:
        """The pane's widget once it is mounted, else None (its tab was never shown)."""
        widget = self._made.get(pane)
        return widget if widget is not None and widget.is_attached else None

    async def show(self, tab: TabPane) -> Any:
        """The widget of the pane in `tab`, mounted into it now if this is its first visit."""
        pane = tab.id or ""
        if pane not in _CLASSES:
            return None
        widget = self._made.get(pane)
        if widget is None:
            widget = self.make(pane)
            await tab.mount(widget)
        return widget
