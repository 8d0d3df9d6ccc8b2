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
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import events, on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane
from textual.worker import Worker

from tui_perf.dashboard.availability import action_enabled
from tui_perf.dashboard.keyline import KeyLine
from tui_perf.dashboard.keys import BINDINGS, bind_late_panes
from tui_perf.dashboard.palette import palette_commands
from tui_perf.dashboard.panes import PANE_SPECS, PANES, LazyPanes, PaneContext, pane_spec
from tui_perf.dashboard.replay_keys import ReplayKeys
from tui_perf.dashboard.source_status import SourceStatus
from tui_perf.dashboard.sources import LocalSource, Source
from tui_perf.dashboard.target_actions import TargetActions
from tui_perf.model.errors import TuiPerfError
from tui_perf.model.snapshot import Snapshot
from tui_perf.views.caches import CACHE_SORTS
from tui_perf.views.history import History
from tui_perf.widgets.managed import WidgetMemoryManager

if TYPE_CHECKING:
    from tui_perf.dashboard.replay import ReplayFrame, ReplaySource

__all__ = ["PANES", "Dashboard", "SourceUpdate"]


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


class Dashboard(TargetActions, ReplayKeys, SourceStatus):
    """The cockpit. Its keys' actions are in mixins by concern (`target_actions.py`,
    `replay_keys.py`, `source_status.py`); which apply now in `availability.py`."""

    TITLE = "tui-perf"
    CSS_PATH = str(resources.files("tui_perf.styles").joinpath("app.tcss"))
    HORIZONTAL_BREAKPOINTS = [
        (0, "-narrow"),
        (110, "-wide"),
        (150, "-very-wide"),
    ]
    PAUSE_GC_ON_SCROLL: ClassVar[bool] = False  # it calls gc.disable(): this app measures GC
    BINDINGS: ClassVar[list[BindingType]] = BINDINGS
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
        bind_late_panes(self, self._BOUND_PANES)
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
        # The dashboard's own widgets: hidden when watching another process (unless asked)
        # and in snapshot tests, which show what a person watching a program sees.
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
        yield KeyLine()

    def on_resize(self, event: events.Resize) -> None:
        # Narrow terminals: a compact footer without the palette hint (ctrl+p still works,
        # and ? lists it) keeps every key's whole name on the line.
        for footer in self.query(KeyLine):  # none while the app is closing
            footer.compact = event.size.width < 110
            footer.show_command_palette = event.size.width >= 110

    def on_mount(self) -> None:
        """Join the memory guard's ladder, then start the workers (last, per Textual)."""
        # Held, not queried per tick: queries search the active screen (help, palette).
        self._tabs = self.query_one(TabbedContent)
        if isinstance(self.source, LocalSource) and self.source.engine.local:
            from tui_perf.engine.memory import Tier

            self.source.engine.guard.register(
                "drop dead widget references",
                self.widget_manager.reclaim,
                min_tier=Tier.HIGH,
                order=40,
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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Grey out what does not apply to this source or this moment (`availability.py`)."""
        return action_enabled(self, action)

    @property
    def running_command(self) -> str | None:
        return self._running_command

    @property
    def pane_actions(self) -> dict[str, str]:
        return self._pane_actions

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from palette_commands(self)

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

    async def on_unmount(self) -> None:
        """Finish writing history (what is queued is flushed), then close the source."""
        if self._store_queue is not None and self._history_worker is not None:
            with contextlib.suppress(Exception):  # a full queue, a worker already gone
                self._store_queue.put_nowait(None)
                await asyncio.wait_for(self._history_worker.wait(), 5)
        await self.source.close()
        if self._heap_frozen:  # the process may go on (a test run, an embedding program)
            gc.unfreeze()
