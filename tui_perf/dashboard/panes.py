"""The dashboard's panes: one registry, and each pane made the first time its tab is shown.

A pane is declared once, as a `PaneSpec` in `PANE_SPECS` (or `register_pane` for one added
from outside): its tab, its number key, its "Show X" command, its extra keys and the view
its widget is handed all derive from that one declaration.

A person opens the dashboard on the Overview and may never visit the Advice or Profile
panes. Composing all nine at start cost their modules' imports, their widgets and their
first layout before the first frame (0.6 s, and 4 MiB that stayed). So only the first pane is
composed; the others' modules are imported, and their widgets mounted into their (empty)
tabs, when the tab is first activated.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from textual.app import App
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import TabPane

from tui_perf.views.bench import bench_trend, bench_view
from tui_perf.views.caches import cache_rows, hit_rate_series
from tui_perf.views.gc import gc_view
from tui_perf.views.history import History
from tui_perf.views.memory import memory_view
from tui_perf.views.overview import overview_view
from tui_perf.views.pools import pool_rows
from tui_perf.views.profile import profile_view


@dataclass(frozen=True)
class PaneContext:
    """What a pane's view function reads: the window to show, the pane's widget (its sort
    and selected row) and the app (its source, its widget manager)."""

    history: History
    widget: Any
    app: Any


@dataclass(frozen=True)
class PaneSpec:
    """One pane, declared once."""

    id: str
    title: str
    #: the key that shows it (also its "key N" in the command palette)
    key: str
    #: "module:Class", imported the first time the tab is shown
    widget: str
    #: what the widget's `view` reactive gets
    view: Callable[[PaneContext], object]
    #: keys that act on this pane only: shown in the footer while it is the active pane
    bindings: tuple[Binding, ...] = ()

    def widget_class(self) -> type[Widget]:
        module, _, name = self.widget.partition(":")
        cls: type[Widget] = getattr(importlib.import_module(module), name)
        return cls


# -- the built-in panes' views ------------------------------------------------------------


def _overview(ctx: PaneContext) -> object:
    app = ctx.app
    stats = app.widget_manager.stats() if app.show_widget_stats else None
    return overview_view(ctx.history, stats)


def _caches(ctx: PaneContext) -> object:
    from tui_perf.widgets.caches import CachesView

    h, caches = ctx.history, ctx.widget
    assert h.latest is not None
    rows = tuple(cache_rows(h.latest.caches, caches.sort))
    selected = caches.selected_cache or (rows[0].cache if rows else "")
    return CachesView(rows, selected, hit_rate_series(h, selected))


def _pools(ctx: PaneContext) -> object:
    assert ctx.history.latest is not None
    return tuple(pool_rows(ctx.history.latest.pools))


def _bench(ctx: PaneContext) -> object:
    from tui_perf.widgets.bench import BenchPaneView

    h = ctx.history
    view = bench_view(h)
    selected = ctx.widget.selected_benchmark or (view.rows[0].name if view.rows else "")
    xs, ys = bench_trend(h, selected)
    return BenchPaneView(view, selected, (tuple(xs), tuple(ys)))


def _advice(ctx: PaneContext) -> object:
    from tui_perf.views.advice import advice_view

    return advice_view(ctx.history, ctx.widget.selected_finding, ctx.app.source.local_interpreter)


#: the panes, in tab order
PANE_SPECS: list[PaneSpec] = [
    PaneSpec("overview", "Overview", "1", "tui_perf.widgets.overview:OverviewPane", _overview),
    PaneSpec(
        "memory",
        "Memory",
        "2",
        "tui_perf.widgets.memory:MemoryPane",
        lambda c: memory_view(c.history),
    ),
    PaneSpec("gc", "GC", "3", "tui_perf.widgets.gc:GCPane", lambda c: gc_view(c.history)),
    PaneSpec("caches", "Caches", "4", "tui_perf.widgets.caches:CachesPane", _caches),
    PaneSpec("pools", "Pools", "5", "tui_perf.widgets.pools:PoolsPane", _pools),
    PaneSpec("bench", "Benchmarks", "6", "tui_perf.widgets.bench:BenchPane", _bench),
    PaneSpec(
        "events",
        "Events",
        "7",
        "tui_perf.widgets.events:EventsPane",
        lambda c: tuple(c.history.events),
    ),
    PaneSpec(
        "profile",
        "Profile",
        "8",
        "tui_perf.widgets.profile:ProfilePane",
        lambda c: profile_view(c.history, c.widget.sort),
        bindings=(
            Binding("p", "toggle_profiling", "Sample"),
            Binding("f", "export_flame", "Flame"),
            Binding("m", "mark_alloc", "Mark"),
        ),
    ),
    PaneSpec("advice", "Advice", "9", "tui_perf.widgets.advice:AdvicePane", _advice),
]


#: the app's own keys (q, e, g, ...) -> what they do; no pane may take one. The app declares
#: them (`reserve_keys`): this module cannot import the app, which imports it.
_APP_KEYS: dict[str, str] = {}


def reserve_keys(bindings: Iterable[BindingType]) -> None:
    """Keep `bindings`' keys from any pane, except the keys the registered panes declared
    (an app's bindings list carries the panes' keys too)."""
    panes = {k for spec in PANE_SPECS for k in (spec.key, *(b.key for b in spec.bindings))}
    for binding in Binding.make_bindings(bindings):
        if binding.key not in panes:
            _APP_KEYS.setdefault(binding.key, binding.description or binding.action)


reserve_keys(App.BINDINGS)  # Textual's own: ctrl+q, ctrl+c


def register_pane(spec: PaneSpec) -> PaneSpec:
    """Add a pane after the others (a Dashboard made from now on shows it)."""
    problem = _spec_problem(spec)
    if problem:
        raise ValueError(f"pane {spec.id!r}: {problem}")
    PANE_SPECS.append(spec)
    return spec


def _spec_problem(spec: PaneSpec) -> str:
    """Why `spec` cannot join the registry, or "" (checked at registration, not at the first
    visit of its tab, where a mistake would take the dashboard down)."""
    if pane_spec(spec.id) is not None:
        return "a pane of that id is registered already"
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", spec.id):
        return "an id is lower-case letters, digits, '-' and '_', starting with a letter"
    module, colon, name = spec.widget.partition(":")
    if not colon or not module or not name.isidentifier():
        return f"widget {spec.widget!r} must read 'package.module:Class'"
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    if found is None:
        return f"widget module {module!r} cannot be found"
    if not spec.key:
        return "a pane needs a key"
    keys = [spec.key, *(b.key for b in spec.bindings)]
    taken = {k for other in PANE_SPECS for k in (other.key, *(b.key for b in other.bindings))}
    clash = sorted(k for k in keys if k in taken)
    if clash:
        return f"key {clash[0]!r} is another pane's already"
    clash = sorted(k for k in keys if k in _APP_KEYS)
    if clash:
        return f"key {clash[0]!r} is the app's own key for {_APP_KEYS[clash[0]]!r}"
    return ""


def unregister_pane(pane: str) -> None:
    """Take a pane out of the registry (a test's, once it is done)."""
    PANE_SPECS[:] = [s for s in PANE_SPECS if s.id != pane]


def pane_spec(pane: str) -> PaneSpec | None:
    return next((s for s in PANE_SPECS if s.id == pane), None)


class _PaneIds(Sequence[str]):
    """The registered panes' ids, in tab order, read from the registry each time."""

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        ids = [s.id for s in PANE_SPECS]
        return ids[index]

    def __len__(self) -> int:
        return len(PANE_SPECS)

    def __iter__(self) -> Iterator[str]:
        return iter([s.id for s in PANE_SPECS])

    def __repr__(self) -> str:
        return f"PANES{tuple(self)!r}"


#: the pane ids, in tab order (live: a registered pane is in it)
PANES: Sequence[str] = _PaneIds()


def pane_class(pane: str) -> type[Widget]:
    spec = pane_spec(pane)
    if spec is None:
        raise KeyError(pane)
    return spec.widget_class()


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
        if pane_spec(pane) is None:
            return None
        widget = self._made.get(pane)
        if widget is None:
            widget = self.make(pane)
            await tab.mount(widget)
        return widget
