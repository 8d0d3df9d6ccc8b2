"""The dashboard's footer: its keys drawn as one line by one widget.

Textual's `Footer` is a container that makes one `FooterKey` widget per key and composes
them all again at every change of a key's state: for this app's nineteen keys that was
about 2.6 MiB of the 6.5 MiB the mounted app added (`benchmarks/dashboard_memory.py`).
`KeyLine` draws the same keys, in the same styles (the theme's `$footer-*` colours), from
`screen.active_bindings` in one `render`, and repaints when the screen's bindings change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget


@dataclass(frozen=True, slots=True)
class ShownKey:
    """A key on the line, where it is drawn (for a click), and whether it applies now."""

    key: str
    start: int
    end: int
    enabled: bool


class KeyLine(Widget, can_focus=False):
    """One line of keys at the bottom: key and description, greyed when it does not apply,
    the command palette's key on the right (wide terminals only)."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "keyline--key",
        "keyline--description",
        "keyline--border",
    }
    DEFAULT_CSS = """
    KeyLine {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        text-wrap: nowrap;
        text-overflow: clip;
        .keyline--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .keyline--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        .keyline--border {
            color: $foreground 20%;
        }
    }
    """

    #: narrow terminals: no padding around the key, a space after each (as Footer's compact)
    compact: reactive[bool] = reactive(False)
    #: the palette's key at the right end
    show_command_palette: reactive[bool] = reactive(True)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[ShownKey, ...] = ()

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        self.refresh()

    def shown_keys(self) -> tuple[str, ...]:
        """The keys on the line as last drawn (tests read what a person sees)."""
        return tuple(k.key for k in self._shown)

    def _keys(self) -> tuple[list[tuple[Binding, bool]], tuple[Binding, bool] | None]:
        """The keys to show, one per action, and the command palette's (or None)."""
        active = self.screen.active_bindings
        seen: set[str] = set()
        keys: list[tuple[Binding, bool]] = []
        for _node, binding, enabled, _tooltip in active.values():
            if binding.show and binding.action not in seen:
                seen.add(binding.action)
                keys.append((binding, enabled))
        palette = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            found = active.get(self.app.COMMAND_PALETTE_BINDING)
            if found is not None:
                palette = (found.binding, found.enabled)
        return keys, palette

    def _key_text(self, binding: Binding, enabled: bool, compact: bool) -> Text:
        key_style = self.get_component_rich_style("keyline--key")
        description_style = self.get_component_rich_style("keyline--description")
        display = self.app.get_key_display(binding)
        if compact:
            text = Text.assemble(
                (display, key_style), (f" {binding.description}", description_style)
            )
        else:
            text = Text.assemble(
                (f" {display} ", key_style), (f"{binding.description} ", description_style)
            )
        if not enabled:
            text.stylize("dim")
        return text

    def render(self) -> Text:
        keys, palette = self._keys()
        line = Text(no_wrap=True, overflow="crop")
        shown: list[ShownKey] = []
        for binding, enabled in keys:
            start = line.cell_len
            line.append_text(self._key_text(binding, enabled, self.compact))
            shown.append(ShownKey(binding.key, start, line.cell_len, enabled))
            if self.compact:
                line.append(" ")
        if palette is not None:
            binding, enabled = palette
            # as Footer draws it: a thin rule, the key compact, one cell of padding
            right = Text("▏", style=self.get_component_rich_style("keyline--border"))
            right.append_text(self._key_text(binding, enabled, compact=True))
            right.append(" ")
            # docked over the right end, as Footer's: the keys under it are cut
            start = max(0, self.size.width - right.cell_len)
            line.truncate(start, pad=True)
            line.append_text(right)
            shown = [k for k in shown if k.end <= start]
            shown.append(ShownKey(binding.key, start, line.cell_len, enabled))
        self._shown = tuple(shown)
        return line

    def on_click(self, event: events.Click) -> None:
        """A click on a key presses it (a greyed one rings the bell), as on Footer's keys."""
        for key in self._shown:
            if key.start <= event.x < key.end:
                if key.enabled:
                    self.app.simulate_key(key.key)
                else:
                    self.app.bell()
                return

    def watch_compact(self) -> None:
        self.refresh()

    def watch_show_command_palette(self) -> None:
        self.refresh()
