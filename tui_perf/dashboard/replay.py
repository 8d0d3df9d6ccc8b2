"""`ReplaySource`: the dashboard over a recorded session instead of a live process.

The app reads it as it reads any source, with one addition: `frames()` yields a
`ReplayFrame` each time the cursor moves, the whole window of snapshots that ends at the
cursor (the panes draw their charts from it) and the events until then, so the panes show
that moment exactly as they showed it live. Nothing can act on a recording: `command()`
refuses with the reason.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import Event, Snapshot
from tui_perf.store.recording import Recording
from tui_perf.views.replay import Position

#: play speeds, cycled by `x`
SPEEDS = (1.0, 10.0, 60.0)
#: the seconds of recording the panes see at the cursor (charts, rates)
WINDOW_S = 600.0


@dataclass(frozen=True, slots=True)
class ReplayFrame:
    """What the panes show at the cursor: the window that ends there, and the events."""

    window: tuple[Snapshot, ...]
    events: tuple[Event, ...]
    position: Position


class ReplaySource:
    """A recording, stepped and played from the keyboard."""

    is_replay = True  # what the app asks, so it need not import this module to know
    local_interpreter = True  # the panes show what was recorded; commands are refused
    read_only = "a recording: nothing here acts on a process"

    def __init__(self, recording: Recording, *, window_s: float = WINDOW_S) -> None:
        self.recording = recording
        self.window_s = window_s
        p = recording.process
        command = f" {p.command}" if p.command and p.command != "?" else ""
        self.description = f"replay · pid {p.pid}{command} · {recording.path.name}"
        self.index = len(recording) - 1  # open at the end: what happened last
        self.playing = False
        self.speed = SPEEDS[0]
        self._moved = asyncio.Event()
        self._closed = False

    # -- the cursor --------------------------------------------------------------------

    def seek(self, index: int) -> None:
        self.index = max(0, min(len(self.recording) - 1, index))
        self._moved.set()

    def step(self, frames: int) -> None:
        self.playing = False
        self.seek(self.index + frames)

    def jump_event(self, direction: int) -> Event | None:
        """Go to the frame that first shows the next (or previous) event; None at an end.

        An event happens between two frames; the later frame is the first to show it.
        """
        times = self.recording.times
        if direction > 0:
            event = self.recording.event_after(times[self.index])
        elif self.index > 0:
            # the events after the previous frame show at this one: look at or before it
            event = self.recording.event_at_or_before(times[self.index - 1])
        else:
            event = None
        if event is None:
            return None
        self.playing = False
        self.seek(self.recording.first_showing(event))
        return event

    def toggle_play(self) -> None:
        if not self.playing and self.index >= len(self.recording) - 1:
            self.index = 0  # play from the start once the end is reached
        self.playing = not self.playing
        self._moved.set()

    def next_speed(self) -> float:
        self.speed = SPEEDS[(SPEEDS.index(self.speed) + 1) % len(SPEEDS)]
        self._moved.set()
        return self.speed

    def position(self) -> Position:
        return Position(
            self.index,
            len(self.recording),
            self.recording.times[self.index],
            self.playing,
            self.speed,
        )

    # -- the source --------------------------------------------------------------------

    async def frames(self) -> AsyncIterator[ReplayFrame]:
        """A frame now and at every move; while playing, the next one in recorded time."""
        while not self._closed:
            self._moved.clear()
            yield await asyncio.to_thread(self._frame)
            delay = self._delay()
            try:
                await asyncio.wait_for(self._moved.wait(), delay)
            except TimeoutError:  # played on to the next frame; the last one ends the play
                self.index += 1
                if self.index >= len(self.recording) - 1:
                    self.playing = False

    def _delay(self) -> float | None:
        if not self.playing or self.index >= len(self.recording) - 1:
            return None
        times = self.recording.times
        gap = times[self.index + 1] - times[self.index]
        return min(max(gap / self.speed, 0.02), 5.0)

    def _frame(self) -> ReplayFrame:
        window = self.recording.window(self.index, self.window_s)
        events = self.recording.events_until(self.recording.times[self.index])
        return ReplayFrame(tuple(window), tuple(events), self.position())

    async def snapshots(self) -> AsyncIterator[Snapshot]:
        async for frame in self.frames():
            if frame.window:
                yield frame.window[-1]

    def refusal(self) -> str:
        """Why a key that acts does nothing here."""
        pid = self.recording.process.pid
        return (
            "this is a recording: nothing here acts on a process "
            f"(to act on pid {pid} while it runs: tui-perf attach {pid})"
        )

    async def command(self, name: str, /, **args: Any) -> dict[str, Any]:
        raise ConfigError(self.refusal())

    async def close(self) -> None:
        self._closed = True
        self._moved.set()
        self.recording.close()


def freeze_startup_heap() -> None:
    """Move what start-up made (modules, widgets, styles) out of the collector's sight.

    Every replay jump decodes a window of frames and drops the last; the allocations wake
    full collections, and each one walked the whole start-up heap: 45 ms of a 150 ms jump on
    a 4-hour file, against 2 ms once frozen (the "freeze after warm-up" the advice gives a
    program with a long-lived heap). Start-up garbage is collected first, so none is kept.
    """
    gc.collect()
    gc.freeze()
