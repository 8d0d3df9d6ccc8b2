"""The Events pane's view: the events, newest first, filtered by a text."""

from __future__ import annotations

from collections import deque

from tui_perf.model.snapshot import Event


def filter_events(
    events: deque[Event] | list[Event], text: str = "", limit: int = 200
) -> list[Event]:
    """Newest first; `text` matches kind, level or message, case-insensitively."""
    needle = text.lower().strip()
    out = []
    for event in reversed(events):
        if not needle or needle in f"{event.kind} {event.level} {event.message}".lower():
            out.append(event)
            if len(out) >= limit:
                break
    return out
