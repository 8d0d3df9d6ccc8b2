"""Which keys apply now: the rules behind `Dashboard.check_action`, as a plain function.

True: shown and live; None: shown greyed (it does not apply at this moment: the target is
gone, a run is in progress, the command is already running); False: hidden (not this kind
of source, or another pane's key).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from tui_perf.dashboard.replay_keys import REPLAY_ACTIONS
from tui_perf.dashboard.target_actions import INTERPRETER_ACTIONS
from tui_perf.views.history import History


class _Source(Protocol):
    @property
    def local_interpreter(self) -> bool: ...


class ActionContext(Protocol):
    """What the rules read of the app."""

    @property
    def replay(self) -> object | None: ...
    @property
    def back_to(self) -> str | None: ...
    @property
    def target_ended(self) -> str: ...
    @property
    def source(self) -> _Source: ...
    @property
    def history(self) -> History: ...
    @property
    def active_pane(self) -> str: ...
    @property
    def running_command(self) -> str | None: ...
    @property
    def pane_actions(self) -> Mapping[str, str]: ...


def action_enabled(app: ActionContext, action: str) -> bool | None:
    """Grey out what does not apply to this source or this moment."""
    if action in REPLAY_ACTIONS:
        return app.replay is not None
    if action == "back_to_top":
        return app.back_to is not None
    if action == "toggle_pause" and app.replay is not None:
        return False  # space plays and pauses the replay instead
    if action in INTERPRETER_ACTIONS and app.replay is not None:
        return False  # off the footer; a press is answered by on_key with the reason
    owner = app.pane_actions.get(action)
    if owner is not None and app.active_pane != owner:
        # a pane's own key: hidden from the footer on other panes, before any greying
        # below: greyed (None) they would show on every pane and push the global keys off
        return False
    if app.target_ended and action in INTERPRETER_ACTIONS:
        return None  # greyed: the footer and the banner say why
    if action in INTERPRETER_ACTIONS and not app.source.local_interpreter:
        return None
    latest = app.history.latest
    if action == "run_benchmarks" and latest is not None and latest.bench_progress:
        return None
    if action == "flush_caches" and latest is not None and not latest.caches:
        return None
    if action in INTERPRETER_ACTIONS and app.running_command == action:
        return None
    if action == "cycle_sort" and app.active_pane not in ("caches", "profile"):
        return None
    return True
