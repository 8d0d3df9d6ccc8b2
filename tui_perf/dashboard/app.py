"""The Textual dashboard. It reads only from a `Source` and acts only through it.

Data flow: an async worker iterates `source.snapshots()` and posts one message type,
`SourceUpdate`, per snapshot; the handler adds it to a bounded `History` and, unless the
view is paused, hands the visible pane a frozen view made by the pure functions in
`tui_perf.views`. Keys call `source.command(...)` in a worker; the result comes back as a
notification and, through the engine, as events in the next snapshots.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane
from textual.worker import Worker

from tui_perf.dashboard.panes import PANE_SPECS, PANES, LazyPanes, PaneContext, PaneSpec, pane_spec
from tui_perf.dashboard.results import COMMAND_TITLES, describe_result
from tui_perf.dashboard.sources import LocalSource, Source
from tui_perf.model.errors import TuiPerfError
from tui_perf.model.snapshot import Event, Snapshot
from tui_perf.views.caches import CACHE_SORTS
from tui_perf.views.history import History
from tui_perf.widgets.managed import WidgetMemoryManager

if TYPE_CHECKING:
    from tui_perf.dashboard.replay import ReplayFrame, ReplaySource
    from tui_perf.widgets.advice import AdvicePane

log = logging.getLogger(__name__)

__all__ = ["PANES", "Dashboard", "SourceUpdate"]
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
REPLAY_ACTIONS = {"replay_step", "replay_event", "replay_speed", "replay_play"}


class SourceUpdate(Message):
    """The one message from the source worker to the UI: a snapshot, a replay's frame (the
    window at its cursor), or the source's end."""

    def __init__(
        self, snapshot: Snapshot | None = None, status: str = "", frame: ReplayFrame | None = None
    ) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.status = status
        self.frame = frame


def _pane_key(spec: PaneSpec) -> Binding:
    return Binding(spec.key, f"show_pane('{spec.id}')", spec.title, show=False)


class Dashboard(App[None]):
    """The cockpit."""

    TITLE = "tui-perf"
    CSS_PATH = str(resources.files("tui_perf.styles").joinpath("app.tcss"))
    HORIZONTAL_BREAKPOINTS = [
        (0, "-narrow"),
        (110, "-wide"),
        (150, "-very-wide"),
    ]
    PAUSE_GC_ON_SCROLL: ClassVar[bool] = False  # it calls gc.disable(): this app measures GC
    BINDINGS: ClassVar[list[BindingType]] = [
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
        *(_pane_key(spec) for spec in PANE_SPECS),
    ]
    #: the panes whose keys are in BINDINGS (a pane registered later is bound per app)
    _BOUND_PANES: ClassVar[frozenset[str]] = frozenset(spec.id for spec in PANE_SPECS)

    paused: reactive[bool] = reactive(False, init=False)

    def __init__(
        self,
        source: Source,
        *,
        history_path: Path | None = None,
        widget_manager: WidgetMemoryManager | None = None,
        history_size: int = 600,
        show_widget_stats: bool = True,
        chart_interval: float = 5.0,
        back_to: str | None = None,
    ) -> None:
        super().__init__()
        for spec in PANE_SPECS:  # panes registered after the class was made
            if spec.id not in self._BOUND_PANES:
                for b in (*spec.bindings, _pane_key(spec)):
                    self.bind(
                        b.key,
                        b.action,
                        description=b.description,
                        show=b.show,
                        key_display=b.key_display,
                    )
        #: the action of each pane's own keys -> that pane (they show only there)
        self._pane_actions = {b.action: s.id for s in PANE_SPECS for b in s.bindings}
        self.source = source
        #: opened from `tui-perf top`: Escape goes back to it (`went_back` tells the caller)
        self.back_to = back_to
        self.went_back = False
        #: whether a program `run` started is stopped when the dashboard ends (the quit
        #: dialog's choice; an ending other than `q` stops it, as before)
        self.stop_target = True
        #: why the watched process is gone ("target exited (code -9)"), or ""
        self.target_ended = ""
        #: the source as a replay, or None when it is live
        self.replay: ReplaySource | None = (
            cast("ReplaySource", source) if getattr(source, "is_replay", False) else None
        )
        self.history = History(size=history_size, recorded=self.replay is not None)
        self._panes = LazyPanes()
        self._paused_history: History | None = None  # what the panes show while paused
        self.widget_manager = widget_manager or WidgetMemoryManager()
        self.history_path = history_path
        # Render counts depend on timing; snapshot tests turn the line off to stay exact.
        self.show_widget_stats = show_widget_stats
        #: charts redraw at most this often (seconds); tests use 0 for exact snapshots.
        #: 5 s: a chart of the last 600 samples puts about 5 s in each of its columns, and
        #: a redraw (plotext, then Textual's styling of some 600 spans) was half the CPU of
        #: a dashboard at 1 Hz when it came every 2.5 s
        self.chart_interval = chart_interval
        self._store_queue: asyncio.Queue[Snapshot | None] | None = None
        self._history_worker: Worker[None] | None = None
        self._sort = 0
        self._running_command: str | None = None
        self._binding_state: tuple[bool, bool] | None = None
        self._heap_frozen = False
        self.sub_title = source.description

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(icon="◈")
        banner = Static("", id="banner")
        banner.display = False
        yield banner
        first = PANE_SPECS[0].id
        with TabbedContent(id="panes", initial=first):
            for spec in PANE_SPECS:
                with TabPane(spec.title, id=spec.id):
                    if spec.id == first:  # the rest are made on their first visit
                        yield self._panes.make(spec.id)
        if self.replay is not None:
            from tui_perf.widgets.timeline import Timeline

            r = self.replay.recording
            yield Timeline(r.times, r.tiers, r.events, id="timeline")
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        # Narrow terminals: a compact footer without the palette hint (ctrl+p still works,
        # and ? lists it) keeps every key's whole name on the line.
        for footer in self.query(Footer):  # none while the app is closing
            footer.compact = event.size.width < 110
            footer.show_command_palette = event.size.width >= 110

    def on_mount(self) -> None:
        """Join the memory guard's ladder, then start the workers (last, per Textual)."""
        # Held, not queried per tick: queries search the active screen (help, palette).
        self._tabs = self.query_one(TabbedContent)
        if isinstance(self.source, LocalSource) and self.source.engine.local:
            from tui_perf.engine.memory import Tier

            self.source.engine.guard.register(
                "drop widget references", self.widget_manager.reclaim, min_tier=Tier.HIGH, order=40
            )
        if hasattr(self.source, "on_status"):  # remote sources say when the target goes
            self.source.on_status = lambda text: self.post_message(SourceUpdate(status=text))
        if self.history_path is not None:
            self._store_queue = asyncio.Queue(maxsize=1000)
            self._history_worker = self.write_history()
        self.consume()

    # -- workers -----------------------------------------------------------------------

    @work(exclusive=True, group="source")
    async def consume(self) -> None:
        """Iterate the source; one snapshot at a time, posted as a message."""
        try:
            if self.replay is not None:
                async for frame in self.replay.frames():
                    self.post_message(SourceUpdate(frame=frame))
                return
            async for snap in self.source.snapshots():
                self.post_message(SourceUpdate(snap))
            if not hasattr(self.source, "on_status"):  # those say why they ended themselves
                self.post_message(SourceUpdate(status="the source has no more snapshots"))
        except TuiPerfError as exc:
            self.post_message(SourceUpdate(status=str(exc)))

    @work(exclusive=True, group="history")
    async def write_history(self) -> None:
        """Write snapshots to the history file through aiosqlite, batched by the store."""
        from tui_perf.store.history import HistoryStore

        assert self._store_queue is not None
        try:
            store = await HistoryStore.open(self.history_path)
        except TuiPerfError as exc:
            self.notify(f"history is off: {exc}", severity="warning", timeout=8)
            self._store_queue = None
            return
        try:
            await self._load_bench_history(store)
            while True:
                snap = await self._store_queue.get()
                if snap is None:  # the app is closing
                    break
                await store.add_snapshot(snap)
                if snap.bench:
                    await self._judge_and_keep(store, snap)
        finally:
            # Shielded: a cancelled worker must still close the file, or aiosqlite's thread
            # answers a loop that is gone.
            await asyncio.shield(store.close())

    async def _judge_and_keep(self, store: Any, snap: Snapshot) -> None:
        from tui_perf.dashboard.bench_runs import judge_and_keep

        slower = await judge_and_keep(store, self.history, snap)
        if slower:
            self.notify(f"slower beyond noise: {', '.join(slower)}", severity="warning")
        self.refresh_view("bench")

    async def _load_bench_history(self, store: Any) -> None:
        from tui_perf.dashboard.bench_runs import load_bench_history

        if await load_bench_history(store, self.history) and self.history.latest is not None:
            self.refresh_view("bench")

    def on_source_update(self, message: SourceUpdate) -> None:
        """Keep the snapshot; show it unless paused."""
        if not self.is_running or not self.screen_stack or not self._tabs.is_attached:
            return  # shutting down: updates posted before the exit arrive after it
        if message.status:
            self.show_source_status(message.status)
            return
        if message.frame is not None:
            self.show_frame(message.frame)
            return
        snap = message.snapshot
        assert snap is not None
        self.history.add(snap)
        if self._store_queue is not None and not self._store_queue.full():
            self._store_queue.put_nowait(snap)
        for event in snap.events:
            if event.level == "error":
                self.notify(event.message, title=event.kind, severity="error")
        if not self.paused:
            self.refresh_view()
        # Refreshing bindings rebuilds the footer: do it only when a key's state can change.
        binding_state = (bool(snap.bench_progress), bool(snap.caches))
        if binding_state != self._binding_state:
            self._binding_state = binding_state
            self.refresh_bindings()

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

    @property
    def active_pane(self) -> str:
        return self._tabs.active or "overview"

    def refresh_view(self, pane: str | None = None) -> None:
        """Hand the visible pane its view; hidden panes catch up when shown."""
        pane = pane or self.active_pane
        # paused: every pane shows the moment of the pause, the ones visited since too
        h = self._paused_history or self.history
        # is_running turns False as shutdown begins, before any pane loses its children.
        if h.latest is None or not self.is_running or not self._tabs.is_attached:
            return
        widget = self._panes.get(pane)
        spec = pane_spec(pane)
        if widget is None or spec is None:
            return  # never shown yet: made, and brought up to date, on its first visit
        with self.batch_update():
            widget.view = spec.view(PaneContext(h, widget, self))

    def pane(self, name: str) -> Any:
        """A pane's widget ("overview", "caches", ...), or None before its first visit."""
        return self._panes.get(name)

    @on(TabbedContent.TabActivated)
    async def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        """A pane came into view: make it on its first visit, bring it up to date."""
        await self._panes.show(event.pane)
        if event.pane.id != self._tabs.active:
            # Another pane was chosen while this one was being made: leave it alone, as
            # focusing a widget in a hidden tab would switch the tabs back to it.
            return
        if event.pane.id:
            self.refresh_view(event.pane.id)
            # The pane's table takes the arrows at once, without a Tab first. Focused now,
            # not later as `focus()` does: a pane key already queued (pressed while this
            # pane was being made) would switch away first, and the late focus of a widget
            # in a hidden tab switches the tabs back to it.
            tables = event.pane.query(DataTable)
            if tables:
                self.screen.set_focus(tables.first())
            else:  # nothing to focus here: not a widget left behind in another pane either
                self.screen.set_focus(None)
        self.refresh_bindings()

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

    def on_data_table_row_highlighted(self) -> None:
        """A new row in Caches, Benchmarks or Advice: chart it."""
        if not self.paused:
            self.refresh_view()

    def watch_paused(self, paused: bool) -> None:
        """Say that the view is paused; catch up on resume."""
        self.sub_title = (
            f"PAUSED (space resumes) · {self.source.description}"
            if paused
            else self.source.description
        )
        self._paused_history = self.history.frozen() if paused else None
        if not paused:
            self.refresh_view()

    # -- keys --------------------------------------------------------------------------

    def show_source_status(self, status: str) -> None:
        """The target's fate in a banner that stays (not a toast that goes), the numbers
        greyed while they are stale, and the moment kept as an event."""
        banner = self.query_one("#banner", Static)
        latest = self.history.latest
        # The last numbers' own time: what is on screen is from then (and tests can pin it).
        at = time.localtime(latest.timestamp if latest is not None else time.time())
        now = time.strftime("%H:%M:%S", at)
        ended = status.startswith("target exited") or status == "the source has no more snapshots"
        lost = status.startswith("connection lost")
        if ended or lost:
            self.history.events.append(Event(time.time(), "target", status, "error"))
            self.refresh_view("events")
        if ended:
            self.target_ended = status
            banner.update(f"{status} · last numbers from {now} · history kept · q quits")
            banner.set_class(False, "-lost")
            banner.display = True
            self._tabs.add_class("-stale")
            self.refresh_bindings()
        elif lost:
            banner.update(f"{status} · the numbers below are from {now}")
            banner.set_class(True, "-lost")
            banner.display = True
            self._tabs.add_class("-stale")
        elif status.startswith("reconnected"):
            banner.display = False
            self._tabs.remove_class("-stale")
            self.notify(status, title="source", timeout=4)
        else:
            self.notify(status, title="source", severity="warning", timeout=10)
        self.sub_title = self.source.description

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Grey out what does not apply to this source or this moment."""
        if action in REPLAY_ACTIONS:
            return self.replay is not None
        if action == "back_to_top":
            return self.back_to is not None
        if action == "toggle_pause" and self.replay is not None:
            return False  # space plays and pauses the replay instead
        if action in INTERPRETER_ACTIONS and self.replay is not None:
            return False  # off the footer; a press is answered by on_key with the reason
        owner = self._pane_actions.get(action)
        if owner is not None and self.active_pane != owner:
            # a pane's own key: hidden from the footer on other panes, before any greying
            # below: greyed (None) they would show on every pane and push the global keys off
            return False
        if self.target_ended and action in INTERPRETER_ACTIONS:
            return None  # greyed: the footer and the banner say why
        if action in INTERPRETER_ACTIONS and not self.source.local_interpreter:
            return None
        latest = self.history.latest
        if action == "run_benchmarks" and latest is not None and latest.bench_progress:
            return None
        if action == "flush_caches" and latest is not None and not latest.caches:
            return None
        if action in INTERPRETER_ACTIONS and self._running_command == action:
            return None
        if action == "cycle_sort" and self.active_pane not in ("caches", "profile"):
            return None
        return True

    def action_show_pane(self, pane: str) -> None:
        """Switch to a pane."""
        if pane != self._tabs.active:
            # Nothing keeps focus in the pane being hidden: Textual would hand it to the
            # next widget there, and focus inside a hidden tab switches the tabs back.
            self.screen.set_focus(None)
        self._tabs.active = pane

    async def action_quit(self) -> None:
        """Quit; when the program was started by `run` and still runs, ask what becomes of it
        (`attach` never stops its target)."""
        child = getattr(self.source, "child", None)
        if child is None or child.poll() is not None:
            self.exit()
            return

        def chosen(choice: str | None) -> None:
            if choice in ("stop", "detach"):
                self.stop_target = choice == "stop"
                self.exit()

        from tui_perf.dashboard.screens import QuitScreen

        self.push_screen(QuitScreen(child.pid), chosen)

    def action_back_to_top(self) -> None:
        """Back to the list this dashboard was opened from; the watched process goes on."""
        self.went_back = True
        self.stop_target = False
        self.exit()

    def action_toggle_pause(self) -> None:
        """Pause or resume the view."""
        self.paused = not self.paused

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

    def action_help(self) -> None:
        """Show the keys and what the numbers mean."""
        from tui_perf.dashboard.screens import HelpScreen

        self.push_screen(HelpScreen())

    def action_cycle_sort(self) -> None:
        """Sort the caches table by the next column (Profile: own or total time)."""
        if self.active_pane == "profile":
            profile = self._panes.get("profile")
            if profile is None:
                return
            profile.sort = "total" if profile.sort == "own" else "own"
            self.refresh_view("profile")
            return
        self._sort = (self._sort + 1) % len(CACHE_SORTS)
        caches = self._panes.get("caches")
        if caches is not None:
            caches.sort = CACHE_SORTS[self._sort]
        self.refresh_view("caches")

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
        self._running_command = {
            "next_gc_strategy": "next_strategy",
            "set_adaptive": "toggle_adaptive",
            "flush_cache": "flush_caches",
            "profile_start": "toggle_profiling",
            "profile_stop": "toggle_profiling",
            "profile_export": "export_flame",
            "alloc_mark": "mark_alloc",
            "set_tuning": "toggle_tuning",
        }.get(name, name)
        self.refresh_bindings()
        title = COMMAND_TITLES.get(name, name.replace("_", " ").capitalize())
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

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for title, help_text, action in (
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
        ):
            if self.check_action(action, ()):
                yield SystemCommand(title, help_text, getattr(self, f"action_{action}"))
        for spec in PANE_SPECS:
            yield SystemCommand(
                f"Show {spec.title}",
                f"key {spec.key}",
                lambda p=spec.id: self.action_show_pane(p),
            )

    async def on_unmount(self) -> None:
        """Finish writing history (what is queued is flushed), then close the source."""
        if self._store_queue is not None and self._history_worker is not None:
            with contextlib.suppress(Exception):  # a full queue, a worker already gone
                self._store_queue.put_nowait(None)
                await asyncio.wait_for(self._history_worker.wait(), 5)
        await self.source.close()
        if self._heap_frozen:  # the process may go on (a test run, an embedding program)
            gc.unfreeze()
