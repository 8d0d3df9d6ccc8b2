"""`WidgetMemoryManager` and the `ManagedWidget` base every pane uses.

The dashboard's own widgets are managed the way the engine manages a user's objects:

- a weakref registry of live widgets (counts by type; dead references dropped),
- pooled row state: each table row's last shown cells live in an object from an
  `ObjectPool` (which shows up in the Pools pane), returned when the row or the widget goes;
  comparing against it means only changed cells are sent to the table,
- a TTL render cache keyed on what a render depends on (the content drawn, the size, the
  theme), so a chart whose data did not change is not rebuilt when Textual asks it to render
  again, after a pane switch or a resize back (plotext charts cost milliseconds to build).

The manager is a rung of the memory guard's ladder: it drops dead references and empties
the render cache. It can be switched off (`TUI_PERF_WIDGET_MANAGER=0`, read by
`manager_enabled`): then renders build directly and tables keep plain row state, so the same
dashboard runs both ways and `benchmarks/bench_widgets.py` can say what the manager saves.
With `TUI_PERF_WIDGET_STATS=FILE` the manager writes its figures there (JSON, at most once a
second) for that benchmark to read.
"""

from __future__ import annotations

import json
import os
import sys
import time
import weakref
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
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


#: the settings, read in one place: "0" switches the manager off; a path asks for its figures
ENABLED_ENV = "TUI_PERF_WIDGET_MANAGER"
STATS_ENV = "TUI_PERF_WIDGET_STATS"


def manager_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get(ENABLED_ENV, "1").strip() not in ("0", "off", "no", "false")


def stats_path(environ: Mapping[str, str] = os.environ) -> Path | None:
    path = environ.get(STATS_ENV, "")
    return Path(path) if path else None


class ContentKey:
    """A render's content as a cache key, hashed once (a chart's spec holds some 600 floats:
    hashing it on every render would cost more than the lookup saves)."""

    __slots__ = ("_hash", "value")

    def __init__(self, value: Hashable) -> None:
        self.value = value
        self._hash = hash(value)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ContentKey) and (
            self.value is other.value or (self._hash == other._hash and self.value == other.value)
        )


def sizeof_state(state: RowState) -> int:
    """Bytes a row state holds: the object, its list, its cells' text and spans."""
    size = sys.getsizeof(state) + sys.getsizeof(state.cells)
    for cell in state.cells:
        size += sys.getsizeof(cell) + sys.getsizeof(cell.plain) + sys.getsizeof(cell.spans)
    return size


class WidgetMemoryManager:
    """Tracks the dashboard's widgets, pools their row state, caches their renders."""

    def __init__(
        self,
        *,
        render_ttl: float = 60.0,
        render_maxsize: int = 256,
        timer: Callable[[], float] = time.monotonic,
        registry: Registry | None = None,
        enabled: bool = True,
        stats_to: Path | None = None,
    ) -> None:
        #: off: renders build directly and tables keep plain row state (measured against on)
        self.enabled = enabled
        self._stats_to = stats_to
        self._stats_written = float("-inf")
        self._timer = timer
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
        self.render_direct = 0  # renders built with the manager off
        self.build_seconds = 0.0  # time spent building renders (misses and direct builds)
        self.key_seconds = 0.0  # time spent making cache keys
        #: by widget type: [hits, misses, direct builds, seconds building]
        self.by_kind: dict[str, list[Any]] = {}
        #: the row states tables hold now (to weigh them), by id
        self._held: dict[int, RowState] = {}

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

    def rendered(
        self, key: Callable[[], Hashable], build: Callable[[], Any], *, kind: str = ""
    ) -> Any:
        """The render for `key()` from the cache, or `build()` (and kept); with the manager
        off, always `build()` (the key is not even computed)."""
        value = self._render(key, build, kind)
        self._maybe_write_stats()
        return value

    def _render(self, key: Callable[[], Hashable], build: Callable[[], Any], kind: str) -> Any:
        counts = self.by_kind.setdefault(kind, [0, 0, 0, 0.0])  # hits, misses, direct, s
        if not self.enabled:
            self.render_direct += 1
            counts[2] += 1
            return self._timed(build, counts)
        # the key's cost (hashing what is drawn) is part of what the cache costs: timed too
        t0 = time.perf_counter()
        k = key()
        self.key_seconds += time.perf_counter() - t0
        try:
            value = self.render_cache[k]
        except KeyError:
            self.render_misses += 1
            counts[1] += 1
            value = self._timed(build, counts)
            self.render_cache[k] = value
            return value
        self.render_hits += 1
        counts[0] += 1
        return value

    def _timed(self, build: Callable[[], Any], counts: list[Any]) -> Any:
        t0 = time.perf_counter()
        try:
            return build()
        finally:
            spent = time.perf_counter() - t0
            self.build_seconds += spent
            counts[3] += spent

    # -- row state ---------------------------------------------------------------------

    def new_row_state(self) -> RowState:
        state = self.row_states.get() if self.enabled else RowState()
        self._held[id(state)] = state
        return state

    def release_row_state(self, state: RowState) -> None:
        self._held.pop(id(state), None)
        if self.enabled:
            self.row_states.put(state)

    def row_state_bytes(self) -> tuple[int, int]:
        """Bytes held by row states tables show now, and by idle ones the pool keeps."""
        held = sum(sizeof_state(s) for s in self._held.values())
        # idle states were cleared when returned: each weighs what an empty one does
        idle = self.row_states.idle * sizeof_state(RowState())
        return held, idle

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

    def figures(self) -> dict[str, Any]:
        """What the manager did and holds, for `bench_widgets.py` (JSON-ready)."""
        held, idle = self.row_state_bytes()
        pool = self.row_states
        return {
            "enabled": self.enabled,
            "renders": self.render_hits + self.render_misses + self.render_direct,
            "render_hits": self.render_hits,
            "render_misses": self.render_misses,
            "render_direct": self.render_direct,
            "build_seconds": self.build_seconds,
            "key_seconds": self.key_seconds,
            "render_cached": len(self.render_cache),
            "row_states_created": pool.created,
            "row_states_reused": pool.reused,
            "row_states_held": len(self._held),
            "row_states_idle": pool.idle,
            "row_state_bytes_held": held,
            "row_state_bytes_idle": idle,
            "widgets": len(self.alive()),
            "by_kind": {k: list(v) for k, v in self.by_kind.items()},
        }

    def _maybe_write_stats(self) -> None:
        now = self._timer()
        if now - self._stats_written < 1.0 or self._stats_to is None:
            return
        self._stats_written = now
        tmp = self._stats_to.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.figures()))
        tmp.replace(self._stats_to)  # the reader never sees half a file

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
        size = self.size
        return manager.rendered(
            lambda: (id(self), self.render_key(), size.width, size.height, self.app.theme),
            build,
            kind=type(self).__name__,
        )

    def render_key(self) -> Hashable:
        """What this widget's render depends on besides its size and the theme: the content
        it draws (a `ContentKey` when that is large). The data version by default."""
        return self.data_version


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
                state = self.manager.new_row_state() if self.manager else RowState()
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
            self.manager.release_row_state(state)

    def release_all(self) -> None:
        for state in self.states.values():
            self._release(state)
        self.states.clear()
