"""`WidgetMemoryManager` and the `ManagedWidget` base every pane uses.

The dashboard's own widgets are managed the way the engine manages a user's objects:

- a weakref registry of live widgets (counts by type; dead references dropped),
- pooled row state: each table row's last shown cells live in an object from an
  `ObjectPool` (which shows up in the Pools pane), returned when the row or the widget goes;
  comparing against it means only changed cells are sent to the table,
- a TTL render cache keyed on (widget, data version, size, theme), so a pane whose data did
  not change is not rebuilt when Textual asks it to render again (plotext charts cost
  milliseconds to build).

The manager is a rung of the memory guard's ladder: it drops dead references and empties
the render cache.
"""

from __future__ import annotations

import time
import weakref
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cachetools import TTLCache
from rich.text import Text
from textual.widget import Widget
from textual.widgets import DataTable

from tui_perf.engine.memory import Freed
from tui_perf.engine.registry import Registry
from tui_perf.pools.objects import ObjectPool
from tui_perf.views.overview import WidgetStats


@dataclass
class RowState:
    """The cells a table row shows now; pooled."""

    key: str = ""
    cells: list[Text] = field(default_factory=list)

    def clear(self) -> None:
        self.key = ""
        self.cells.clear()


class WidgetMemoryManager:
    """Tracks the dashboard's widgets, pools their row state, caches their renders."""

    def __init__(
        self,
        *,
        render_ttl: float = 10.0,
        render_maxsize: int = 256,
        timer: Callable[[], float] = time.monotonic,
        registry: Registry | None = None,
    ) -> None:
        self._widgets: dict[int, weakref.ref[Widget]] = {}
        self.row_states: ObjectPool[RowState] = ObjectPool(
            RowState,
            max_idle=512,
            reset=RowState.clear,
            name="dashboard row state",
            registry=registry,
        )
        self.render_cache: TTLCache[Hashable, Any] = TTLCache(
            render_maxsize, render_ttl, timer=timer
        )
        self.render_hits = 0
        self.render_misses = 0

    # -- the registry ------------------------------------------------------------------

    def track(self, widget: Widget) -> None:
        self._widgets[id(widget)] = weakref.ref(widget)

    def untrack(self, widget: Widget) -> None:
        self._widgets.pop(id(widget), None)
        for key in [k for k in self.render_cache if isinstance(k, tuple) and k[0] == id(widget)]:
            self.render_cache.pop(key, None)

    def drop_dead(self) -> int:
        dead = [k for k, ref in self._widgets.items() if ref() is None]
        for k in dead:
            del self._widgets[k]
        return len(dead)

    def alive(self) -> list[Widget]:
        self.drop_dead()
        return [w for ref in self._widgets.values() if (w := ref()) is not None]

    # -- the render cache --------------------------------------------------------------

    def rendered(self, key: Hashable, build: Callable[[], Any]) -> Any:
        try:
            value = self.render_cache[key]
        except KeyError:
            self.render_misses += 1
            value = build()
            self.render_cache[key] = value
            return value
        self.render_hits += 1
        return value

    # -- the ladder's rung and the stats -----------------------------------------------

    def reclaim(self) -> Freed:
        dead = self.drop_dead()
        cached = len(self.render_cache)
        self.render_cache.clear()
        drained = self.row_states.drain()
        return Freed(
            dead + cached + drained,
            "entries",
            f"{dead} dead widget refs, {cached} cached renders, {drained} row states",
        )

    def stats(self) -> WidgetStats:
        widgets = self.alive()
        by_type = Counter(type(w).__name__ for w in widgets)
        pool = self.row_states.stats()
        return WidgetStats(
            len(widgets),
            tuple(sorted(by_type.items())),
            pool.in_use,
            pool.reuse_rate,
            self.render_hits,
            self.render_misses,
            len(self.render_cache),
        )


def manager_of(widget: Widget) -> WidgetMemoryManager | None:
    return getattr(widget.app, "widget_manager", None)


class ManagedWidget(Widget):
    """Registers with the app's manager while mounted; renders through its cache."""

    data_version: int = 0

    def on_mount(self) -> None:
        manager = manager_of(self)
        if manager is not None:
            manager.track(self)

    def on_unmount(self) -> None:
        manager = manager_of(self)
        if manager is not None:
            manager.untrack(self)

    def cached_render(self, build: Callable[[], Any]) -> Any:
        manager = manager_of(self)
        if manager is None:
            return build()
        key = (id(self), self.data_version, self.size.width, self.size.height, self.app.theme)
        return manager.rendered(key, build)


class TableRows:
    """Keeps a DataTable in step with rows of cells, in place, with pooled row state."""

    def __init__(
        self,
        table: DataTable[Any],
        manager: WidgetMemoryManager | None,
        labels: Sequence[str] = (),
    ) -> None:
        self.table = table
        self.manager = manager
        self.states: dict[str, RowState] = {}
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
        for state in self.states.values():
            self._release(state)
        self.states.clear()
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
            state = self.states.get(key)
            if state is None:
                state = self.manager.row_states.get() if self.manager else RowState()
                state.key = key
                state.cells = list(cells)
                self.states[key] = state
                table.add_row(*cells, key=key)
                changed = True
                continue
            for i, cell in enumerate(cells):
                if i >= len(state.cells) or state.cells[i] != cell:
                    # update_width: a count that grows a digit must not be cut ("1,206,9")
                    table.update_cell(key, columns[i], cell, update_width=True)
                    changed = True
            state.cells[:] = cells
        seen = set(order)
        for key in [k for k in self.states if k not in seen]:
            table.remove_row(key)
            self._release(self.states.pop(key))
            changed = True
        if order != self._order:
            # DataTable sorts by cell values, not row keys: map each row's cells to its
            # position (identical rows may trade places, which nobody can see).
            position = {
                tuple(c.plain for c in self.states[k].cells): n for n, k in enumerate(order)
            }
            table.sort(*columns, key=lambda cells: position.get(tuple(c.plain for c in cells), 0))
            self._order = order
            changed = True
        return changed

    def _release(self, state: RowState) -> None:
        if self.manager is not None:
            self.manager.row_states.put(state)

    def release_all(self) -> None:
        for state in self.states.values():
            self._release(state)
        self.states.clear()
