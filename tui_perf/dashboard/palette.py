"""The command palette's entries: the actions with a title and a line of help, and a
"Show X" for every registered pane."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from textual.app import SystemCommand

from tui_perf.dashboard.panes import PANE_SPECS

#: (title, help, action): offered when `check_action` says the action applies now
ENTRIES = (
    ("Emergency cleanup", "run every rung of the ladder now", "emergency_cleanup"),
    ("Full collection", "gc.collect() in the watched process", "gc_collect"),
    ("Next GC strategy", "throughput → balanced → default → strict", "next_strategy"),
    ("Adaptive GC on/off", "strategy follows the memory tier", "toggle_adaptive"),
    ("Flush caches", "empty every cache's memory tier", "flush_caches"),
    ("Run benchmarks", "the built-in suite, quick", "run_benchmarks"),
    ("GC census", "count the types left in reference cycles", "census"),
    ("Pause or resume the view", "sampling continues", "toggle_pause"),
    ("Change the caches sort", "name, hit rate, hits, size, evictions", "cycle_sort"),
    ("Profile: sampling on/off", "sample every thread's stack", "toggle_profiling"),
    ("Profile: write a flame graph", "speedscope JSON file", "export_flame"),
    ("Profile: mark allocations", "growth is measured from here", "mark_alloc"),
    ("Tuner on/off", "take the advice, keep what measurably helped", "toggle_tuning"),
)


class PaletteApp(Protocol):
    """What the entries need of the app (its actions are looked up by name)."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None: ...
    def action_show_pane(self, pane: str) -> None: ...


def palette_commands(app: PaletteApp) -> Iterator[SystemCommand]:
    """The dashboard's own entries, after Textual's (theme, keys, quit)."""
    for title, help_text, action in ENTRIES:
        if app.check_action(action, ()):
            yield SystemCommand(title, help_text, getattr(app, f"action_{action}"))
    for spec in PANE_SPECS:
        yield SystemCommand(
            f"Show {spec.title}", f"key {spec.key}", lambda p=spec.id: app.action_show_pane(p)
        )
