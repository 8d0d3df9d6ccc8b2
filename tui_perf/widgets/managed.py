"""`WidgetMemoryManager`, the `ManagedWidget` base every pane uses, and `TableRows`.

The manager is a weakref registry of the dashboard's live widgets: the Overview shows their
count by type (a pane that leaks widgets shows up there), and it is a rung of the memory
guard's ladder that drops the references of widgets already gone. That is all it does.

It used to also pool each table row's state in an `ObjectPool` and keep a TTL cache of
renders. Measured on and off over the same 10 minutes of the demo
(`benchmarks/bench_widgets.py`, `benchmarks/results/widgets.json`), neither saved anything:
the cache served 11 of 149 renders (7%), its builds took 3.95 s against 3.54 s without it,
process CPU 16.32% against 16.22%, RSS equal (all the chart builds of the run without it
came to 0.59% of a core, so no cache of them could save much); the pool reused 11 row states
against 133 created, the same 33.5 KiB held either way. Both were removed.

`TableRows` keeps each row's last shown cells (a plain list per row) and sends the table only
the cells that changed: that diffing is what keeps table updates cheap.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import DataTable

from tui_perf.engine.memory import Freed
from tui_perf.views.overview import WidgetStats


class WidgetMemoryManager:
    """A weakref registry of the dashboard's live widgets: counts by type for the Overview,
    and the ladder's rung that drops references to widgets already gone."""

    def __init__(self) -> None:
        self._widgets: dict[int, weakref.ref[Widget]] = {}

    def track(self, widget: Widget) -> None:
        self._widgets[id(widget)] = weakref.ref(widget)

    def untrack(self, widget: Widget) -> None:
        self._widgets.pop(id(widget), None)

    def drop_dead(self) -> int:
        dead = [k for k, ref in self._widgets.items() if ref() is None]
        for k in dead:
            del self._widgets[k]
        return len(dead)

    def alive(self) -> list[Widget]:
        self.drop_dead()
        return [w for ref in self._widgets.values() if (w := ref()) is not None]

    def reclaim(self) -> Freed:
        """The memory ladder's rung: forget widgets that were collected without unmounting."""
        dead = self.drop_dead()
        return Freed(dead, "entries", f"{dead} dead widget refs")

    def stats(self) -> WidgetStats:
        widgets = self.alive()
        by_type = Counter(type(w).__name__ for w in widgets)
        return WidgetStats(len(widgets), tuple(sorted(by_type.items())))


def manager_of(widget: Widget) -> WidgetMemoryManager | None:
    return getattr(widget.app, "widget_manager", None)


class ManagedWidget(Widget):
    """Registers with the app's manager while mounted."""

    def on_mount(self) -> None:
        manager = manager_of(self)
        if manager is not None:
            manager.track(self)

    def on_unmount(self) -> None:
        manager = manager_of(self)
        if manager is not None:
            manager.untrack(self)


class TableRows:
    """Keeps a DataTable in step with rows of cells, in place: only changed cells are sent."""

    def __init__(self, table: DataTable[Any], labels: Sequence[str] = ()) -> None:
        self.table = table
        #: the cells each row shows now, by row key: compared against, so only changes are sent
        self.shown: dict[str, list[Text]] = {}
        self._order: list[str] = []  # the order of row keys last shown
        #: every column the rows carry; `show_columns` picks which the table has
        self.labels = list(labels)
        self._shown = list(range(len(labels)))

    def show_columns(self, shown: Sequence[str]) -> None:
        """Show only these columns (of `labels`); the table is rebuilt when the set changes."""
        wanted = [i for i, label in enumerate(self.labels) if label in shown]
        if wanted == self._shown:
            return
        self._shown = wanted
        self.table.clear(columns=True)
        for i in wanted:
            self.table.add_column(self.labels[i], key=self.labels[i])
        self.shown.clear()
        self._order = []

    def sync(self, rows: Iterable[tuple[str, Sequence[str | Text]]]) -> bool:
        """Show `rows` (key, cells) in this order: add, update changed cells, remove.

        Plain strings are shown as they are (never read as markup: names of users' caches
        and benchmarks may hold brackets); pass a `Text` for a styled cell. The table is
        re-sorted only when the order of keys differs from the last one shown. Returns
        whether anything on screen changed.
        """
        table = self.table
        order: list[str] = []
        changed = False
        columns = list(table.columns)
        for key, raw in rows:
            if self.labels:
                raw = [raw[i] for i in self._shown]
            cells = [c if isinstance(c, Text) else Text(c) for c in raw]
            order.append(key)
            before = self.shown.get(key)
            self.shown[key] = cells
            if before is None:
                table.add_row(*cells, key=key)
                changed = True
                continue
            for i, cell in enumerate(cells):
                if i >= len(before) or before[i] != cell:
                    # update_width: a count that grows a digit must not be cut ("1,206,9")
                    table.update_cell(key, columns[i], cell, update_width=True)
                    changed = True
        seen = set(order)
        for key in [k for k in self.shown if k not in seen]:
            table.remove_row(key)
            del self.shown[key]
            changed = True
        if order != self._order:
            # DataTable sorts by cell values, not row keys: map each row's cells to its
            # position (identical rows may trade places, which nobody can see).
            position = {tuple(c.plain for c in self.shown[k]): n for n, k in enumerate(order)}
            table.sort(*columns, key=lambda cells: position.get(tuple(c.plain for c in cells), 0))
            self._order = order
            changed = True
        return changed
