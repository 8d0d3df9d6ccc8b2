"""A pane is declared once, as a `PaneSpec`: its tab, key, command and view follow from it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static, TabbedContent

from tests.helpers.dashboard import history, settle, snapshot
from tui_perf.dashboard.app import Dashboard
from tui_perf.dashboard.keyline import KeyLine
from tui_perf.dashboard.panes import (
    PANE_SPECS,
    PANES,
    PaneContext,
    PaneSpec,
    register_pane,
    unregister_pane,
)
from tui_perf.dashboard.sources import ScriptedSource


class NotesPane(Widget):
    """The smallest pane: a `view` reactive and something to draw it in."""

    view: reactive[Any] = reactive(None, repaint=False)

    def compose(self) -> ComposeResult:
        yield Static("", id="notes-text")

    def watch_view(self, view: Any) -> None:
        if view is not None:
            self.query_one("#notes-text", Static).update(f"{view[0]} snapshots")


def notes_view(ctx: PaneContext) -> tuple[int, bool]:
    return (len(ctx.history.snapshots), ctx.widget.is_attached)


NOTES = PaneSpec(
    "notes",
    "Notes",
    "0",
    f"{__name__}:NotesPane",
    notes_view,
    bindings=(Binding("n", "bell", "Note"),),
)


def _footer_keys(app: Dashboard) -> set[str]:
    return set(app.screen.query_one(KeyLine).shown_keys())


async def test_a_pane_declared_once_has_a_tab_a_key_a_command_and_a_view() -> None:
    register_pane(NOTES)
    try:
        assert PANES[-1] == "notes"
        source = ScriptedSource(history(3))
        app = Dashboard(source)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot, 3)
            # the tab, after the built-in ones
            tabs = app.query_one(TabbedContent)
            assert str(tabs.get_tab("notes").label) == "Notes"
            # its number key is bound; its own key is in the footer on its pane only
            key = app.active_bindings["0"].binding
            assert key.action == "show_pane('notes')" and key.description == "Notes"
            assert "n" not in _footer_keys(app)
            # the command palette's "Show Notes"
            commands = {c.title: c.help for c in app.get_system_commands(app.screen)}
            assert commands["Show Notes"] == "key 0"
            # its module is imported and its widget made on the first visit, with a view
            assert app.pane("notes") is None
            await pilot.press("0")
            for _ in range(300):
                if app.pane("notes") is not None and app.pane("notes").view is not None:
                    break
                await pilot.pause(0.01)
            assert app.active_pane == "notes"
            pane = app.pane("notes")
            assert isinstance(pane, NotesPane) and pane.view == (3, True)
            assert "n" in _footer_keys(app)
            # a new snapshot reaches it
            source.push(snapshot(3))
            await settle(pilot, 4)
            assert pane.view == (4, True)
            assert str(pane.query_one("#notes-text", Static).render()) == "4 snapshots"
    finally:
        unregister_pane("notes")
    assert "notes" not in PANES and all(s.id != "notes" for s in PANE_SPECS)
    assert len(PANES) == 9


def test_a_pane_id_is_registered_once() -> None:
    try:
        register_pane(NOTES)
        try:
            register_pane(NOTES)
        except ValueError as exc:
            assert "notes" in str(exc)
        else:
            raise AssertionError("a second 'notes' pane was registered")
    finally:
        unregister_pane("notes")
    assert "notes" not in PANES


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"id": "my notes"}, "an id is lower-case"),
        ({"widget": "tests.test_pane_registry.NotesPane"}, "must read"),
        ({"widget": "no_such_module_here:Pane"}, "cannot be found"),
        ({"key": "1"}, "another pane's already"),
        ({"key": ""}, "needs a key"),
        ({"bindings": (Binding("p", "bell", "Clash"),)}, "another pane's already"),
        ({"key": "g"}, r"^pane 'notes': key 'g' is the app's own key for 'Collect'$"),
        ({"bindings": (Binding("q", "bell", "Clash"),)}, "key 'q' is the app's own key for 'Quit'"),
        ({"key": "ctrl+q"}, r"key 'ctrl\+q' is the app's own key for 'Quit'"),
    ],
    ids=[
        "id",
        "widget-form",
        "widget-module",
        "key",
        "no-key",
        "pane-key",
        "app-key",
        "app-key-in-bindings",
        "textual-key",
    ],
)
def test_a_bad_pane_is_refused_when_registered_with_a_line_that_says_why(
    change: dict[str, Any], says: str
) -> None:
    """Not at the first visit of its tab, where the mistake took the dashboard down."""
    with pytest.raises(ValueError, match=says):
        register_pane(dataclasses.replace(NOTES, **change))
    assert "notes" not in PANES
