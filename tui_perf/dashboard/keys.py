"""The dashboard's keys, in footer order, derived in part from the pane registry.

Each pane's number key and its own keys come from its `PaneSpec`; a pane registered after
the `Dashboard` class was made is bound on each new app (`bind_late_panes`).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from textual.app import App
from textual.binding import Binding, BindingType

from tui_perf.dashboard.panes import PANE_SPECS, PaneSpec, reserve_keys


def pane_key(spec: PaneSpec) -> Binding:
    """The number key that shows the pane (off the footer: the tabs show the panes)."""
    return Binding(spec.key, f"show_pane('{spec.id}')", spec.title, show=False)


BINDINGS: list[BindingType] = [
    # First, so a narrow footer cuts something else: how to get help and how to leave.
    Binding("q", "quit", "Quit"),
    Binding("escape", "back_to_top", "Top", key_display="esc"),
    Binding("question_mark", "help", "Help"),
    # the panes' own keys (the Profile pane's; hidden elsewhere) before the global ones
    *(b for spec in PANE_SPECS for b in spec.bindings),
    Binding("e", "emergency_cleanup", "Cleanup"),
    Binding("g", "gc_collect", "Collect"),
    Binding("s", "next_strategy", "Strategy"),
    Binding("a", "toggle_adaptive", "Adaptive"),
    Binding("c", "flush_caches", "Flush"),
    Binding("b", "run_benchmarks", "Bench"),
    Binding("space", "toggle_pause", "Pause", key_display="␣"),
    Binding("space", "replay_play", "Play", key_display="␣"),
    Binding("o", "cycle_sort", "Sort", show=False),
    Binding("t", "toggle_tuning", "Tune", show=False),
    Binding("comma", "replay_step(-1)", "Back", key_display=","),
    Binding("full_stop", "replay_step(1)", "Fwd", key_display="."),
    Binding("left_square_bracket", "replay_event(-1)", "Prev event", key_display="["),
    Binding("right_square_bracket", "replay_event(1)", "Next event", key_display="]"),
    Binding("x", "replay_speed", "Speed"),
    *(pane_key(spec) for spec in PANE_SPECS),
]
reserve_keys(BINDINGS)  # no pane registered from outside may take them


def bind_late_panes(app: App[Any], bound: Collection[str]) -> None:
    """Bind the keys of the panes registered after the class was made (not in `bound`)."""
    for spec in PANE_SPECS:
        if spec.id not in bound:
            for b in (*spec.bindings, pane_key(spec)):
                app.bind(
                    b.key,
                    b.action,
                    description=b.description,
                    show=b.show,
                    key_display=b.key_display,
                )
