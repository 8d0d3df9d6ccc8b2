"""The widget memory manager: its render cache keys on what a render shows, and it can be
switched off (renders built directly, plain row state) so what it saves can be measured."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.dashboard import history, settle
from tui_perf.dashboard.app import Dashboard
from tui_perf.dashboard.sources import ScriptedSource
from tui_perf.engine.registry import Registry
from tui_perf.widgets.chart import Chart, ChartSpec, Line
from tui_perf.widgets.managed import (
    ContentKey,
    WidgetMemoryManager,
    manager_enabled,
    stats_path,
)


def spec(title: str, ys: tuple[float, ...]) -> ChartSpec:
    return ChartSpec(title, lines=(Line("x", tuple(float(i) for i in range(len(ys))), ys),))


def app_with(manager: WidgetMemoryManager) -> Dashboard:
    return Dashboard(ScriptedSource(history(2)), widget_manager=manager, chart_interval=0)


async def test_the_same_visible_data_again_is_served_from_the_cache() -> None:
    manager = WidgetMemoryManager(registry=Registry())
    async with app_with(manager).run_test() as pilot:
        await settle(pilot, 2)
        chart = pilot.app.query_one("#overview-rss", Chart)
        chart.show(spec("rss", (1.0, 2.0)))
        await pilot.pause()
        chart.show(spec("rss", (3.0, 4.0)))  # new data: built
        await pilot.pause()
        hits, misses = manager.render_hits, manager.render_misses
        # a later tick brings the first data again, as a new object: what was drawn is reused
        chart.show(spec("rss", (1.0, 2.0)))
        await pilot.pause()
        assert (manager.render_hits, manager.render_misses) == (hits + 1, misses)
        chart.show(spec("rss", (5.0, 6.0)))  # content not seen before: a miss
        await pilot.pause()
        assert manager.render_misses == misses + 1


async def test_a_pane_switch_and_a_resize_back_rebuild_nothing() -> None:
    manager = WidgetMemoryManager(registry=Registry())
    async with app_with(manager).run_test(size=(120, 40)) as pilot:
        await settle(pilot, 2)
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("1")
        await pilot.pause()
        await pilot.resize_terminal(100, 32)
        await pilot.pause()
        hits, misses = manager.render_hits, manager.render_misses
        await pilot.resize_terminal(120, 40)  # back to a size already drawn
        await pilot.pause()
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("1")  # back to the Overview, same data
        await pilot.pause()
        assert manager.render_misses == misses
        assert manager.render_hits > hits  # the charts at 120x40 came from the cache


async def test_off_builds_every_render_and_keeps_plain_row_state() -> None:
    manager = WidgetMemoryManager(registry=Registry(), enabled=False)
    async with app_with(manager).run_test() as pilot:
        await settle(pilot, 2)
        await pilot.press("5")  # pools: a table of rows
        await pilot.pause()
        chart = pilot.app.query_one("#overview-rss", Chart)
        chart.refresh()
        await pilot.pause()
        assert manager.render_direct >= 1
        assert (manager.render_hits, manager.render_misses, len(manager.render_cache)) == (0, 0, 0)
        figures = manager.figures()
        assert figures["row_states_held"] >= 2 and figures["row_state_bytes_held"] > 0
        assert manager.row_states.created == 0  # the pool was never asked


def test_the_switch_and_the_stats_file_are_read_from_the_environment(tmp_path: Path) -> None:
    assert manager_enabled({}) and manager_enabled({"TUI_PERF_WIDGET_MANAGER": "1"})
    assert not manager_enabled({"TUI_PERF_WIDGET_MANAGER": "0"})
    assert stats_path({}) is None
    out = tmp_path / "m.json"
    assert stats_path({"TUI_PERF_WIDGET_STATS": str(out)}) == out
    now = [0.0]
    manager = WidgetMemoryManager(registry=Registry(), stats_to=out, timer=lambda: now[0])
    manager.rendered(lambda: "k", lambda: "drawn")
    manager.rendered(lambda: "k", lambda: "drawn")
    assert json.loads(out.read_text())["render_misses"] == 1  # written at once, then throttled
    now[0] = 1.5
    manager.rendered(lambda: "k", lambda: "drawn")
    figures = json.loads(out.read_text())
    assert (figures["render_hits"], figures["render_misses"]) == (2, 1)


def test_a_content_key_is_equal_for_equal_content_and_hashes_once() -> None:
    a, b = spec("t", (1.0, 2.0)), spec("t", (1.0, 2.0))
    assert a is not b and ContentKey(a) == ContentKey(b)
    assert hash(ContentKey(a)) == hash(ContentKey(b))
    assert ContentKey(a) != ContentKey(spec("t", (1.0, 3.0)))
