"""The keys that act on the watched process, and the worker that sends their commands.

A mixin of the `Dashboard`, not a collaborator object: Textual finds a key's action as an
`action_*` method (and a message's handler as an `on_*` method) on the App itself, so the
actions of one concern live in a class of their own that the App inherits.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App

from tui_perf.dashboard.results import command_title, describe_result
from tui_perf.model.errors import TuiPerfError
from tui_perf.model.snapshot import Event

if TYPE_CHECKING:
    from tui_perf.dashboard.sources import Source
    from tui_perf.views.history import History
    from tui_perf.widgets.advice import AdvicePane

log = logging.getLogger(__name__)

#: the actions that need the watched interpreter (off in a replay, greyed once it is gone)
INTERPRETER_ACTIONS = {
    "toggle_tuning",
    "emergency_cleanup",
    "gc_collect",
    "next_strategy",
    "toggle_adaptive",
    "flush_caches",
    "run_benchmarks",
    "census",
    # the Profile pane's own keys: sampling, flame graph, allocation mark
    "toggle_profiling",
    "export_flame",
    "mark_alloc",
}
#: keys that move the replay cursor (hidden when the source is live)
#: a command's name -> the action that sent it (greyed while it runs)
ACTION_OF_COMMAND = {
    "next_gc_strategy": "next_strategy",
    "set_adaptive": "toggle_adaptive",
    "flush_cache": "flush_caches",
    "profile_start": "toggle_profiling",
    "profile_stop": "toggle_profiling",
    "profile_export": "export_flame",
    "alloc_mark": "mark_alloc",
    "set_tuning": "toggle_tuning",
}


class TargetActions(App[None]):
    """Cleanup, collection, GC strategy, flush, benchmarks, census, profiling, tuning: each
    key sends one command through the source; the result is a toast and an event."""

    history: History
    source: Source
    #: why the watched process is gone, or ""
    target_ended: str
    #: the action whose command is in flight (its key is greyed until it answers)
    _running_command: str | None

    if TYPE_CHECKING:

        def refresh_view(self, pane: str | None = None) -> None: ...
        def action_show_pane(self, pane: str) -> None: ...

    def on_advice_pane_apply(self, message: AdvicePane.Apply) -> None:
        """Enter on a finding: send its action to the watched process; the result comes
        back as a notification and an event (kept in the history file)."""
        latest = self.history.latest
        if latest is None or latest.advice is None:
            return
        finding = next((f for f in latest.advice.findings if f.key == message.key), None)
        if finding is None or finding.action is None:
            self.notify("this finding has no action to take", timeout=4)
            return
        if self.target_ended or not self.source.local_interpreter:
            self.notify("the watched process cannot take actions now", severity="warning")
            return
        self.run_command(finding.action.command, **finding.action.arguments())

    def action_emergency_cleanup(self) -> None:
        """Run the whole cleanup ladder in the watched process."""
        self.run_command("emergency_cleanup")

    def action_gc_collect(self) -> None:
        """Run a full collection."""
        self.run_command("gc_collect")

    def action_next_strategy(self) -> None:
        """Switch to the next GC strategy."""
        self.run_command("next_gc_strategy")

    def action_toggle_adaptive(self) -> None:
        """Turn adaptive GC on or off."""
        latest = self.history.latest
        on = not (latest is not None and latest.gc is not None and latest.gc.adaptive)
        self.run_command("set_adaptive", on=on)

    def action_flush_caches(self) -> None:
        """Flush every cache's memory tier."""
        self.run_command("flush_cache")

    def action_run_benchmarks(self) -> None:
        """Run the built-in suite, quick."""
        self.action_show_pane("bench")
        self.run_command("run_benchmarks", quick=True)

    def action_census(self) -> None:
        """Count the types the program leaves in reference cycles."""
        self.run_command("census")

    def action_toggle_profiling(self) -> None:
        """Start or stop the sampling profiler in the watched process."""
        latest = self.history.latest
        running = latest is not None and latest.profile is not None and latest.profile.running
        self.run_command("profile_stop" if running else "profile_start")

    def action_toggle_tuning(self) -> None:
        """Turn the tuner on or off in the watched process."""
        latest = self.history.latest
        on = not (latest is not None and latest.tuning is not None and latest.tuning.enabled)
        self.run_command("set_tuning", on=on)

    def action_export_flame(self) -> None:
        """Write the profile as a speedscope flame graph file; the notification says where."""
        self.run_command("profile_export", format="speedscope")

    def action_mark_alloc(self) -> None:
        """Mark the heap now: the allocation table shows growth since this point."""
        self.run_command("alloc_mark")

    @work(group="commands")
    async def run_command(self, name: str, /, **args: Any) -> None:
        """Send a command to the source; report its result as a notification."""
        self._running_command = ACTION_OF_COMMAND.get(name, name)
        self.refresh_bindings()
        title = command_title(name)
        latest = self.history.latest
        if latest is not None and not self.source.local_interpreter:
            title += f" · pid {latest.pid}"  # which process acted
        try:
            if self.target_ended:
                raise TuiPerfError(f"{self.target_ended}: there is nothing left to act on")
            result = await self.source.command(name, **args)
        except TuiPerfError as exc:
            self.notify(str(exc), title=title, severity="error")
            return
        except Exception as exc:  # the source's trouble must not take the dashboard down
            log.exception("command %s failed", name)
            self.notify(f"{type(exc).__name__}: {exc}", title=title, severity="error")
            return
        finally:
            self._running_command = None
            self.refresh_bindings()
        try:
            text = describe_result(name, result)
        except (KeyError, TypeError, ValueError, AttributeError):  # an agent of another version
            text = "done"
        # The whole result is kept where it can be read again (Events); the toast is short and
        # brief, so it does not sit on a chart's axis or the cleanup table at 80x24.
        self.history.events.append(Event(time.time(), "command", f"{title}: {text}", "info"))
        self.refresh_view("events")
        self.notify(text.split("; ", 1)[0], title=title, timeout=4)
