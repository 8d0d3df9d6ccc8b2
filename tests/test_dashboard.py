"""The dashboard driven through Textual's pilot: every key's effect on a real engine."""

from __future__ import annotations

import gc
import re
import sqlite3
import subprocess
import sys

import pytest
from textual.widgets import Static, TabbedContent

from tests.helpers.dashboard import history, settle, snapshot
from tests.helpers.scripted import MiB, ScriptedProbe
from tui_perf.caches.multilevel import MultiLevelCache
from tui_perf.dashboard.app import PANES, Dashboard, SourceUpdate
from tui_perf.dashboard.screens import HelpScreen, QuitScreen
from tui_perf.dashboard.sources import LocalSource, ScriptedSource
from tui_perf.engine.core import Engine, EngineConfig
from tui_perf.engine.registry import Registry
from tui_perf.engine.sampler import Sampler
from tui_perf.widgets.chart import Chart, ChartSpec, Line
from tui_perf.widgets.managed import ManagedWidget, WidgetMemoryManager


@pytest.fixture
def engine() -> Engine:
    registry = Registry()
    sampler = Sampler(ScriptedProbe(rss=100 * MiB), budget=1000 * MiB)
    engine = Engine(EngineConfig(interval=0.2), sampler=sampler, registry=registry)
    engine.cache = MultiLevelCache("test.cache", registry=registry)  # type: ignore[attr-defined]
    return engine


def app_for(engine: Engine) -> Dashboard:
    return Dashboard(LocalSource(engine, interval=0.2), widget_manager=WidgetMemoryManager())


async def wait_for(pilot, condition, tries: int = 300) -> None:  # type: ignore[no-untyped-def]
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError("condition not met")


async def test_s_switches_the_engines_gc_strategy(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test() as pilot:
        await settle(pilot, 1)
        assert engine.gc_controller is not None
        before = engine.gc_controller.strategy
        await pilot.press("s")
        await wait_for(pilot, lambda: engine.gc_controller.strategy != before)
        assert engine.gc_controller.strategy == "strict"


async def test_a_toggles_adaptive_gc(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test() as pilot:
        await settle(pilot, 2)
        await pilot.press("a")
        await wait_for(pilot, lambda: engine.gc_controller.adaptive)
        assert engine.gc_controller.strategy == "throughput"  # NORMAL tier
        await wait_for(pilot, lambda: app.history.latest.gc.adaptive)
        await pilot.press("a")
        await wait_for(pilot, lambda: not engine.gc_controller.adaptive)


async def test_t_turns_the_tuner_on_and_off_and_the_advice_pane_says_so(engine: Engine) -> None:
    from tui_perf.tune.commands import state_of

    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, 2)
        await pilot.press("9")
        await wait_for(pilot, lambda: "tuner off · t: try the advice" in _tuning_text(app))
        await pilot.press("t")
        await wait_for(pilot, lambda: state_of(engine).tuner is not None)
        tuner = state_of(engine).tuner
        assert tuner is not None and tuner.enabled
        await wait_for(pilot, lambda: _tuning_text(app).startswith("tuner on · profile "))
        await pilot.press("t")
        await wait_for(pilot, lambda: not tuner.enabled)
        await wait_for(pilot, lambda: "tuner off (t turns it on)" in _tuning_text(app))


def _tuning_text(app: Dashboard) -> str:
    from textual.widgets import Static

    return str(app.query_one("#advice-tuning", Static).render())


async def test_c_really_empties_the_caches(engine: Engine) -> None:
    cache = engine.cache  # type: ignore[attr-defined]
    for i in range(10):
        cache.set(i, i)
    app = app_for(engine)
    async with app.run_test() as pilot:
        await settle(pilot, 1)
        await pilot.press("c")
        await wait_for(pilot, lambda: len(cache.l1) == 0)


async def test_e_runs_the_ladder_and_says_what_it_freed(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test() as pilot:
        await settle(pilot, 1)
        await pilot.press("e")
        await wait_for(pilot, lambda: len(engine.guard.reports) == 1)
        await wait_for(pilot, lambda: any("RSS" in str(n.message) for n in app._notifications))
        await wait_for(pilot, lambda: len(app.history.cleanups) == 1)


async def test_g_runs_a_full_collection(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test() as pilot:
        await settle(pilot, 1)
        before = gc.get_stats()[2]["collections"]
        await pilot.press("g")
        await wait_for(pilot, lambda: gc.get_stats()[2]["collections"] > before)
        await wait_for(
            pilot, lambda: any("collected" in str(n.message) for n in app._notifications)
        )


async def test_b_runs_the_suite_and_shows_the_results(engine: Engine) -> None:
    import tempfile
    from pathlib import Path

    def scratch() -> set[Path]:
        return set(Path(tempfile.gettempdir()).glob("tui-perf-bench-*"))

    before = scratch()
    app = app_for(engine)
    async with app.run_test() as pilot:
        await settle(pilot, 1)
        await pilot.press("b")
        assert app.query_one(TabbedContent).active == "bench"
        await wait_for(pilot, lambda: len(app.history.bench) >= 8, tries=3000)
        assert "cache_hit" in app.history.bench
        await wait_for(pilot, lambda: app.check_action("run_benchmarks", ()) is True, tries=1000)
        await pilot.press("b")  # the second run used to fail on a cached SQLite connection
        await wait_for(pilot, lambda: len(app.history.bench["cache_hit"]) >= 2, tries=3000)
        failed = [e.message for e in app.history.events if e.kind == "bench" and e.level == "error"]
        assert failed == [] and len(app.history.bench["sqlite_insert_100[mode=single]"]) == 2
    # the suite ran in worker processes, which took their scratch folders with them: nothing
    # is left behind in the watched process, even if it is killed later
    assert scratch() <= before


async def test_space_pauses_the_view_while_sampling_continues() -> None:
    source = ScriptedSource(history(3))
    app = Dashboard(source)
    async with app.run_test() as pilot:
        await settle(pilot, 3)
        await pilot.press("space")
        assert app.paused and "PAUSED" in app.sub_title
        shown = app.query_one("OverviewPane").view
        source.push(snapshot(10, rss_mib=450))
        await settle(pilot, 4)
        assert app.query_one("OverviewPane").view is shown  # the view held still
        await pilot.press("space")
        await pilot.pause()
        assert app.query_one("OverviewPane").view.memory.rss == 450 * MiB


async def test_number_keys_switch_panes_and_question_mark_helps() -> None:
    app = Dashboard(ScriptedSource(history(3)))
    async with app.run_test() as pilot:
        await settle(pilot, 3)
        for key, pane in zip(
            "2345671",
            ("memory", "gc", "caches", "pools", "bench", "events", "overview"),
            strict=True,
        ):
            await pilot.press(key)
            assert app.query_one(TabbedContent).active == pane
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("q")
    assert app.return_code == 0


async def test_interpreter_keys_are_greyed_out_when_the_gc_is_out_of_reach() -> None:
    app = Dashboard(ScriptedSource(history(2, gc_visible=False), local_interpreter=False))
    async with app.run_test() as pilot:
        await settle(pilot, 2)
        for action in (
            "emergency_cleanup",
            "gc_collect",
            "next_strategy",
            "flush_caches",
            "run_benchmarks",
        ):
            assert app.check_action(action, ()) is None
        assert app.check_action("toggle_pause", ()) is True


async def test_a_failing_command_is_a_notification_not_a_crash() -> None:
    app = Dashboard(ScriptedSource(history(2)))  # no scripted replies: every command fails
    async with app.run_test() as pilot:
        await settle(pilot, 2)
        await pilot.press("g")
        await wait_for(pilot, lambda: any(n.severity == "error" for n in app._notifications))
        assert app.is_running


# -- the widget memory manager -------------------------------------------------------


async def test_unmounted_widgets_leave_the_registry() -> None:
    app = Dashboard(ScriptedSource(history(2)), widget_manager=WidgetMemoryManager())
    async with app.run_test() as pilot:
        await settle(pilot, 2)
        manager = app.widget_manager
        before = manager.stats().alive
        extra = ManagedWidget()
        await app.screen.mount(extra)
        assert manager.stats().alive == before + 1
        await extra.remove()
        del extra
        gc.collect()
        assert manager.stats().alive == before


async def test_a_chart_is_the_text_plotext_would_have_printed() -> None:
    """The chart builds its Text from plotext's matrix, not by parsing plotext's ANSI: the
    result must equal the parsed one, for one line, two scales, thresholds and none."""
    from rich.text import Text

    xs = tuple(float(-i) for i in range(300, 0, -1))
    ys = tuple(50 + (i % 37) * 0.5 for i in range(300))
    specs = [
        ChartSpec("RSS", "seconds", (Line("RSS", xs, ys),), ((60.0, "yellow"), (65.0, "red"))),
        ChartSpec(
            "two",
            "x",
            (Line("a", xs, ys), Line("b", xs, ys[::-1], color="magenta", right=True)),
            vlines=((-100.0, "white"),),
            xticks=((-200.0, "then"), (-1.0, "now")),
        ),
        ChartSpec("runs", lines=(Line("r", (1.0, 2.0, 3.0), (3.0, 1.0, 2.0)),), integer_x=True),
        ChartSpec("nothing yet"),
    ]
    app = Dashboard(ScriptedSource(history(2)), chart_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, 2)
        chart = app.query_one("#overview-rss", Chart)
        for spec in specs:
            chart.spec = spec
            built = chart.render()
            parsed = Text.from_ansi(chart._plot.build())  # what textual-plotext would show
            assert (built.plain, built.spans, built.end) == (parsed.plain, parsed.spans, "\n")
            assert built == parsed


async def test_charts_redraw_at_most_once_per_chart_interval() -> None:
    app = Dashboard(ScriptedSource(history(2)), chart_interval=3600)
    async with app.run_test() as pilot:
        await settle(pilot, 2)
        chart = app.query_one("#overview-rss", Chart)
        drawn = chart.spec
        newer = (Line("x", (0.0,), (1.0,)),)
        chart.show(ChartSpec(drawn.title, lines=newer))  # new data, same subject
        assert chart.spec is drawn  # deferred: the last redraw was just now
        chart._apply()  # what the timer does when the interval has passed
        assert chart.spec.lines == newer
        chart.show(ChartSpec("another subject"))  # the person picked another row: at once
        assert chart.spec.title == "another subject"


async def test_benchmark_runs_come_from_and_go_to_the_history_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tui_perf.model.snapshot import BenchResult
    from tui_perf.store.history import HistoryStore

    path = tmp_path / "history.db"
    async with await HistoryStore.open(path) as store:
        await store.add_bench_run(
            "r1", "older_bench", "g", 10, [1e-6, 1.1e-6], 1.05e-6, 5e-8, {}, ts=1.0
        )
    source = ScriptedSource(history(2))
    app = Dashboard(source, history_path=path)
    async with app.run_test() as pilot:
        await settle(pilot, 2)
        await wait_for(pilot, lambda: "older_bench" in app.history.bench)
        await pilot.press("6")
        await pilot.pause()
        assert app.query_one("BenchPane").view.bench.rows[0].name == "older_bench"
        result = BenchResult("fresh_bench", "g", (2e-6, 2e-6), 8, 2e-6, 0.0, "")
        source.push(snapshot(5, bench=(result,)))
        await settle(pilot, 3)

        def written() -> set[str]:
            with sqlite3.connect(path) as db:
                return {row[0] for row in db.execute("SELECT name FROM bench_runs")}

        await wait_for(pilot, lambda: written() == {"older_bench", "fresh_bench"}, tries=1000)


async def test_the_benchmarks_pane_judges_a_run_against_the_history_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The pane's verdict is `tui-perf bench`'s: the pooled runs in the history file, not the
    previous run of this session."""
    import socket

    from tui_perf.model.snapshot import BenchResult
    from tui_perf.store.history import HistoryStore

    path = tmp_path / "history.db"
    host = socket.gethostname()
    spread = (0.99, 1.0, 1.01, 1.0, 0.995, 1.005)
    async with await HistoryStore.open(path) as store:
        for run in range(5):
            values = [s * 1e-6 for s in spread for _ in range(2)]
            await store.add_bench_run(
                f"r{run}",
                "cache_hit",
                "g",
                10,
                values,
                1e-6,
                0.0,
                {"hostname": host},
                ts=float(run + 1),
                sizes=[2] * 6,
                refs=[5e-5] * 6,
            )
    source = ScriptedSource(history(2))
    app = Dashboard(source, history_path=path)
    async with app.run_test() as pilot:
        await settle(pilot, 2)
        await wait_for(pilot, lambda: "cache_hit" in app.history.bench)
        values = tuple(1.3 * s * 1e-6 for s in spread for _ in range(2))
        result = BenchResult(
            "cache_hit", "g", values, 10, 1.3e-6, 0.0, sizes=(2,) * 6, refs=(5e-5,) * 6
        )
        source.push(snapshot(5, bench=(result,)))
        await wait_for(pilot, lambda: app.history.bench["cache_hit"][-1].verdict != "", tries=1000)
        verdict = app.history.bench["cache_hit"][-1].verdict
        assert verdict.startswith("slower: +30% [") and "against the machine's speed" in verdict
        await pilot.press("6")
        await pilot.pause()
        row = app.query_one("BenchPane").view.bench.rows[0]
        assert row.name == "cache_hit" and row.verdict == verdict
        assert any("slower beyond noise: cache_hit" in str(n.message) for n in app._notifications)


async def test_o_re_sorts_the_caches_table_and_unchanged_order_is_left_alone() -> None:
    app = Dashboard(ScriptedSource(history(3)), chart_interval=0)
    async with app.run_test() as pilot:
        await settle(pilot, 3)
        await pilot.press("4")
        await pilot.pause()
        table = app.query_one("#caches-table")

        def shown() -> list[str]:
            return [
                str(table.get_row_at(i)[0]) + "/" + str(table.get_row_at(i)[1])
                for i in range(table.row_count)
            ]

        assert shown() == ["pages.render/L1", "users.profile/L1", "users.profile/L2"]
        await pilot.press("o")  # by hit rate: users.profile L1 (80%) first
        await pilot.pause()
        assert shown()[0] == "users.profile/L1"
        rows = app.pane("caches")._rows
        before = rows._order
        app.refresh_view("caches")  # the same data again: no new order, no sort
        assert rows._order is before


async def test_the_caches_pane_shows_an_l2_tier_down_with_its_reason(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An L2 that cannot be opened: the pane says which tier, why, and counts its errors."""
    from textual.widgets import DataTable, Static

    from tui_perf.caches.sqlite_tier import SQLiteTier

    registry = Registry()
    sampler = Sampler(ScriptedProbe(rss=100 * MiB), budget=1000 * MiB)
    engine = Engine(EngineConfig(interval=0.2), sampler=sampler, registry=registry)
    cache = MultiLevelCache("pages", l2=SQLiteTier(tmp_path / "gone" / "c.db"), registry=registry)
    assert cache.get("k", "computed") == "computed"  # the tier failed: a miss, no raise
    async with app_for(engine).run_test(size=(120, 40)) as pilot:
        await settle(pilot, 1)
        await pilot.press("4")
        table = pilot.app.query_one("#caches-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        kinds = [str(table.get_row_at(i)[2]) for i in range(table.row_count)]
        assert "sqlite DOWN" in kinds
        down = pilot.app.query_one("#caches-down", Static)
        text = str(down.render())
        assert down.display and "L2 of pages (sqlite) is down" in text
        assert "unable to open database file" in text
        assert re.search(r"· [1-9][0-9]* errors", text)


async def test_q_asks_before_stopping_a_program_run_started_and_detach_leaves_it() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for keys, stop in ((("q", "d"), False), (("q", "s"), True)):
            source = ScriptedSource(history(2))
            source.child = child  # type: ignore[attr-defined]  # what `run` hands RemoteSource
            app = Dashboard(source, chart_interval=0)
            async with app.run_test() as pilot:
                await settle(pilot, 2)
                await pilot.press("q")
                await pilot.pause()
                assert isinstance(app.screen, QuitScreen)
                await pilot.press("escape")  # stay
                await pilot.pause()
                assert app.is_running and not isinstance(app.screen, QuitScreen)
                for key in keys:
                    await pilot.press(key)
                await pilot.pause()
            assert app.stop_target is stop
        assert child.poll() is None  # the dashboard itself never stops it: `run` does
    finally:
        child.kill()
        child.wait()


async def test_q_quits_at_once_when_there_is_no_program_of_ours() -> None:
    app = Dashboard(ScriptedSource(history(2)), chart_interval=0)
    async with app.run_test() as pilot:
        await settle(pilot, 2)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_a_target_killed_with_sigkill_leaves_a_banner_greyed_numbers_and_disabled_keys(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """A real target, SIGKILLed: the banner stays, the panes grey, the exit is an event, and
    the action keys are disabled with the reason in the banner."""
    import os
    import signal

    from tests.conftest import ROOT
    from tests.test_agent import Target
    from tui_perf.agent.client import RemoteSource

    runtime = tmp_path / "run"
    runtime.mkdir()
    target = Target({**os.environ, "XDG_RUNTIME_DIR": str(runtime), "PYTHONPATH": str(ROOT)})
    try:
        source = RemoteSource(target.address, child=target.proc)  # type: ignore[arg-type]
        app = Dashboard(source, history_path=None, chart_interval=0)
        async with app.run_test() as pilot:
            await wait_for(pilot, lambda: app.history.latest is not None, tries=1500)
            assert app.check_action("emergency_cleanup", ()) is True
            target.proc.send_signal(signal.SIGKILL)
            await wait_for(pilot, lambda: bool(app.target_ended), tries=1500)
            banner = app.query_one("#banner", Static)
            text = str(banner.render())
            assert banner.display and text.startswith("target exited (code -9) · last numbers")
            assert text.endswith("· history kept · q quits")
            assert app.query_one("#panes").has_class("-stale")
            assert any(e.kind == "target" and "code -9" in e.message for e in app.history.events)
            assert app.check_action("emergency_cleanup", ()) is None  # greyed in the footer
            await pilot.press("q")  # nothing of ours left to stop: no question
            await pilot.pause()
            assert not app.is_running
    finally:
        if target.proc.poll() is None:
            target.proc.kill()
        target.proc.wait()


async def test_escape_leaves_the_events_filter_and_the_keys_work_again() -> None:
    source = ScriptedSource(history(3), replies={"gc_collect": {}})  # {}: an odd reply too
    app = Dashboard(source, chart_interval=0)
    async with app.run_test() as pilot:
        await settle(pilot, 3)
        await pilot.press("7")
        await pilot.click("#events-filter")
        await pilot.press("q", "g")  # typed into the filter, not quit or collect
        await pilot.pause()
        assert app.is_running and app.query_one("#events-filter").value == "qg"  # type: ignore[attr-defined]
        assert source.commands == []
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is None or app.focused.id != "events-filter"
        await pilot.press("g")  # a key again
        await pilot.pause()
        assert [name for name, _ in source.commands] == ["gc_collect"]
        assert app.is_running  # and a reply it cannot read is "done", not a crash


async def test_arrows_pick_the_charted_cache_at_once_without_tab() -> None:
    app = Dashboard(ScriptedSource(history(3)), chart_interval=3600)  # an hour between redraws
    async with app.run_test() as pilot:
        await settle(pilot, 3)
        await pilot.press("4")
        await pilot.pause()
        chart = app.query_one("#caches-chart", Chart)
        assert chart.spec.title.endswith("pages.render")
        await pilot.press("down")  # no Tab first: the table has the arrows
        await pilot.pause()
        assert chart.spec.title.endswith("users.profile")  # drawn now, not in an hour


async def test_a_commands_whole_result_goes_to_events_and_the_toast_is_short() -> None:
    reply = {"collected": 12, "duration_ms": 3.0}
    source = ScriptedSource(history(3), replies={"gc_collect": reply})
    app = Dashboard(source, chart_interval=0)
    async with app.run_test() as pilot:
        await settle(pilot, 3)
        await pilot.press("g")
        await wait_for(pilot, lambda: any(e.kind == "command" for e in app.history.events))
        event = next(e for e in app.history.events if e.kind == "command")
        assert event.message == "Full collection: 12 unreachable objects collected in 3.00 ms"


async def test_a_cell_that_grows_widens_its_column_instead_of_being_cut() -> None:
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    from tui_perf.widgets.managed import TableRows

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable()

    app = One()
    async with app.run_test() as pilot:
        table = app.query_one(DataTable)
        rows = TableRows(table, ("cache", "misses"))
        table.add_columns("cache", "misses")
        rows.sync([("f", ["f", "12"])])
        await pilot.pause()
        rows.sync([("f", ["f", "1,206,900"])])  # a counter that grew three digits
        await pilot.pause()
        assert table.columns[table.ordered_columns[1].key].get_render_width(table) >= 9


async def test_advice_pane_arrows_pick_a_finding_and_enter_takes_its_action() -> None:
    from dataclasses import replace

    from tests.helpers.dashboard import advice_stats
    from tui_perf.model.advice import Action, Finding
    from tui_perf.widgets.advice import AdvicePane

    snaps = history(40)
    gc_finding = Finding(
        "gc-time-share",
        "critical",
        "garbage collection takes 20.0% of wall time",
        (("GC time share (mean)", "20.0%"),),
        "last 39 s (40 snapshots)",
        Action.of("set_gc_strategy", name="throughput"),
    )
    stats = advice_stats(snaps)
    stats = replace(stats, findings=(gc_finding, *stats.findings))
    snaps[-1] = replace(snaps[-1], advice=stats)
    reply = {"name": "users.profile", "before": 64, "maxsize": 256, "evicted": 0}
    source = ScriptedSource(snaps, replies={"set_cache_size": reply})
    app = Dashboard(source, chart_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, 40)
        await pilot.press("9")
        await pilot.pause()
        pane = app.query_one(AdvicePane)
        assert pane.selected_finding == "gc-time-share"
        await pilot.press("down")  # the cache finding: its curve is the one charted
        await pilot.pause()
        assert pane.selected_finding == "cache-too-small:users.profile"
        assert pane.view is not None and pane.view.curve is not None
        assert pane.view.action == 'set_cache_size name="users.profile" maxsize=256'
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert source.commands == [("set_cache_size", {"name": "users.profile", "maxsize": 256})]


async def test_the_gc_pane_says_when_pauses_were_timed_in_turns() -> None:
    import io
    from dataclasses import replace

    from rich.console import Console

    snaps = history(3)
    last = snaps[-1]
    assert last.gc is not None
    snaps[-1] = replace(last, gc=replace(last.gc, pauses_timed_share=0.2))
    app = Dashboard(ScriptedSource(snaps), chart_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, 3)
        await pilot.press("3")
        await pilot.pause()
        console = Console(width=200, record=True, file=io.StringIO())
        for block in app.query_one("#gc-pane").query("InfoBlock"):
            console.print(block.render())
        text = console.export_text()
        assert "timed, in 20% of the window" in text
        assert "the GC share, are estimated" in text


@pytest.mark.parametrize(
    "keys", [("7", "8"), ("7", "4"), ("9", "7", "2"), ("2", "3", "4", "5", "6", "7", "8", "9")]
)
async def test_pane_keys_pressed_quickly_end_on_the_last_one(keys: tuple[str, ...]) -> None:
    """Panes are made on their first visit: a key pressed while one is being made, and the
    focus its table takes, must not send the tabs back to an earlier pane."""
    app = Dashboard(ScriptedSource(history(5)), chart_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, 5)
        await pilot.press(*keys)
        for _ in range(20):
            await pilot.pause(0.02)
        assert app.active_pane == PANES[int(keys[-1]) - 1]
        shown = app.query_one(f"#{PANES[int(keys[-1]) - 1]}-pane")
        assert app.focused is None or shown in app.focused.ancestors_with_self


async def test_while_paused_every_pane_shows_the_moment_of_the_pause() -> None:
    snaps = history(8)
    source = ScriptedSource(snaps[:4])
    app = Dashboard(source, chart_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, 4)
        await pilot.press("space")
        paused_at = app.history.latest
        for snap in snaps[4:]:
            app.post_message(SourceUpdate(snap))
        await settle(pilot, 8)
        await pilot.press("2")  # first visit, while paused
        await pilot.pause()
        memory = app.query_one("#memory-pane")
        assert memory.view is not None and memory.view.rss == paused_at.memory.rss  # type: ignore[union-attr]
        await pilot.press("1")
        await pilot.pause()
        assert app.pane("overview").view.memory.rss == paused_at.memory.rss  # type: ignore[union-attr]
        await pilot.press("space")  # resumed: the latest again
        await pilot.pause()
        assert app.pane("overview").view.memory.rss == snaps[-1].memory.rss


async def test_profile_keys_stay_off_other_panes_when_the_target_is_gone() -> None:
    """Once the target exits, the keys that act are greyed; the Profile pane's own keys
    must still be hidden elsewhere, not greyed on every pane (they pushed the global keys
    off an 80-column footer)."""
    app = Dashboard(ScriptedSource(history(3)), chart_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, 3)
        app.show_source_status("target exited (code -9)")
        await pilot.pause()
        assert app.check_action("toggle_profiling", ()) is False
        assert app.check_action("emergency_cleanup", ()) is None
        await pilot.press("8")
        await pilot.pause()
        assert app.check_action("toggle_profiling", ()) is None  # on its pane: greyed
