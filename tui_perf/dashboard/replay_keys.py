"""A replay's keys: step, jump to an event, play, change speed; and a frame shown.

A mixin of the `Dashboard` (Textual's actions are methods of the App). Off when the source
is live: `check_action` hides these keys unless `replay` is set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.app import App
from textual.binding import Binding

from tui_perf.dashboard.target_actions import INTERPRETER_ACTIONS

if TYPE_CHECKING:
    from tui_perf.dashboard.replay import ReplayFrame, ReplaySource
    from tui_perf.views.history import History

#: keys that move the replay cursor (hidden when the source is live)
REPLAY_ACTIONS = {"replay_step", "replay_event", "replay_speed", "replay_play"}


class ReplayKeys(App[None]):
    """The replay cursor from the keyboard; the keys that would act say why they cannot."""

    history: History
    #: the source as a replay, or None when it is live
    replay: ReplaySource | None
    _binding_state: tuple[bool, bool] | None
    _heap_frozen: bool

    if TYPE_CHECKING:

        def refresh_view(self, pane: str | None = None) -> None: ...

    def show_frame(self, frame: ReplayFrame) -> None:
        """A replay's cursor moved: the panes show the window that ends there."""
        from tui_perf.dashboard.replay import freeze_startup_heap
        from tui_perf.widgets.timeline import Timeline

        self.history.reset(frame.window, frame.events)
        self.query_one(Timeline).position = frame.position
        self.refresh_view()
        if not self._heap_frozen:
            self._heap_frozen = True
            self.call_after_refresh(freeze_startup_heap)
        binding_state = (False, bool(frame.window and frame.window[-1].caches))
        if binding_state != self._binding_state:
            self._binding_state = binding_state
            self.refresh_bindings()

    # -- views -------------------------------------------------------------------------

    def action_replay_play(self) -> None:
        """Replay: play or pause."""
        if self.replay is not None:
            self.replay.toggle_play()

    def on_key(self, event: events.Key) -> None:
        """A replay answers the keys that act with the reason they are off."""
        if self.replay is None:
            return
        action = next((b.action for b in self._action_bindings(event.key)), "")
        if action in INTERPRETER_ACTIONS:
            self.notify(self.replay.refusal(), title="replay", severity="warning", timeout=5)

    def _action_bindings(self, key: str) -> list[Binding]:
        return [b for b in self.BINDINGS if isinstance(b, Binding) and b.key == key]

    def action_replay_step(self, frames: int) -> None:
        """Replay: one frame back or forward."""
        if self.replay is not None:
            self.replay.step(frames)

    def action_replay_event(self, direction: int) -> None:
        """Replay: to the previous or next event."""
        if self.replay is not None and self.replay.jump_event(direction) is None:
            where = "after" if direction > 0 else "before"
            self.notify(f"no event {where} this frame", timeout=3)

    def action_replay_speed(self) -> None:
        """Replay: 1x, 10x, 60x."""
        if self.replay is not None:
            self.replay.next_speed()
