"""What a person sees: every pane at 80x24 and 120x40, and the states that matter.

Rendered from a ScriptedSource with fixed timestamps (TZ is UTC here so the clock reads the
same everywhere). Textual, plotext and pytest-textual-snapshot are pinned in the test extra:
after `pytest --snapshot-update`, open the changed SVGs before committing them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot

from tests.helpers.dashboard import (
    T0,
    advice_stats,
    cleanup,
    history,
    profile_stats,
    settle,
    snapshot,
)
from tui_perf.bench.compare import judge
from tui_perf.dashboard.app import PANES, Dashboard, SourceUpdate
from tui_perf.dashboard.sources import ScriptedSource
from tui_perf.model.snapshot import BenchResult, Snapshot
from tui_perf.model.snapshot import to_dict as as_dict

os.environ["TZ"] = "UTC"
time.tzset()

SIZES = [(80, 24), (120, 40)]
N = 40


def with_extras(snaps: list[Snapshot]) -> list[Snapshot]:
    """Put benchmark results and a census into the scripted history, so no pane is idle."""
    runs = [
        BenchResult("cache_hit", "cache", (3.1e-7,) * 5, 32768, 3.1e-7, 2e-9, ""),
        BenchResult("json_round_trip", "serialize", (8.8e-6,) * 5, 2048, 8.8e-6, 1e-7, ""),
        BenchResult(
            "sqlite_insert_100[mode=batched]", "sqlite", (1.6e-4,) * 5, 64, 1.6e-4, 6e-6, ""
        ),
    ]
    spread = (0.99, 1.0, 1.01, 1.0, 0.995, 1.005)  # six processes, as a real run has
    second = [
        BenchResult(
            r.name,
            r.group,
            r.values,
            r.loops,
            r.median_s * f,
            r.stdev_s,
            judge(
                r.name, [[s] * 3 for s in spread], [[s * f] * 3 for s in spread], noise=0.03
            ).text,
        )
        for r, f in zip(runs, (1.01, 1.22, 0.8), strict=True)
    ]
    out = list(snaps)
    out[30] = _replace(out[30], bench=tuple(runs))
    out[35] = _replace(out[35], bench=tuple(second))
    out[-1] = snapshot(
        N - 1, census=(("tui_perf.dashboard.demo.DemoNode", 1840), ("dict", 1840), ("list", 920))
    )
    out[-1] = _replace(out[-1], profile=profile_stats(out[-1].timestamp), advice=advice_stats(out))
    return out


def _replace(snap: Snapshot, **changes: object) -> Snapshot:
    return Snapshot.from_dict(
        {**as_dict(snap), **{k: as_dict_field(v) for k, v in changes.items()}}
    )


def as_dict_field(value: object) -> object:
    if isinstance(value, tuple):
        return [as_dict(v) for v in value]
    if value is not None and not isinstance(value, str | int | float):
        return as_dict(value)
    return value


def app(snaps: list[Snapshot] | None = None, **source: object) -> Dashboard:
    return Dashboard(
        ScriptedSource(snaps if snaps is not None else with_extras(history(N)), **source),  # type: ignore[arg-type]
        show_widget_stats=False,
        chart_interval=0,
    )


def showing(key: str, count: int = N) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot, count)
        await pilot.press(key)
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()

    return run_before


class TestPanes:
    """Every pane, from the same scripted minute of a process, at both sizes."""

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    @pytest.mark.parametrize("pane", PANES)
    def test_pane(self, snap_compare, pane: str, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
        """The pane's numbers, tables and chart for a process climbing into ELEVATED."""
        key = str(PANES.index(pane) + 1)
        assert snap_compare(app(), terminal_size=size, run_before=showing(key))


class TestStates:
    def test_after_emergency_cleanup(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        """After e: the notification says what was freed; Memory shows each rung's report."""
        report = cleanup(T0 + N)
        reply = as_dict(report)

        def after(name: str) -> list[Snapshot]:
            return [snapshot(N, rss_mib=290, cleanups=(report,))]

        async def run_before(pilot: Pilot[None]) -> None:
            await settle(pilot, N)
            await pilot.press("2")
            await pilot.press("e")
            await settle(pilot, N + 1)
            await pilot.pause()

        assert snap_compare(
            app(replies={"emergency_cleanup": reply}, after_command=after),
            terminal_size=(120, 40),
            run_before=run_before,
        )

    def test_target_exited(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        """The target died: a red banner that stays, greyed numbers, greyed action keys."""

        async def run_before(pilot: Pilot[None]) -> None:
            await settle(pilot, N)
            pilot.app.post_message(SourceUpdate(status="target exited (code -9)"))
            await pilot.pause()
            await pilot.pause()

        assert snap_compare(
            app(local_interpreter=False), terminal_size=(80, 24), run_before=run_before
        )

    def test_help_at_80x24(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        """? at 80 columns: the help wraps with the terminal, key lines whole."""
        assert snap_compare(app(), terminal_size=(80, 24), run_before=showing("question_mark"))

    def test_paused(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        """After space: the title says PAUSED and that sampling continues."""
        assert snap_compare(app(), terminal_size=(80, 24), run_before=showing("space"))

    def test_high_tier_banner(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        """A process in HIGH: the banner turns orange and says how much of the budget."""
        snaps = [snapshot(i, rss_mib=300 + 4 * i) for i in N_RANGE]
        snaps.append(snapshot(N, rss_mib=450))
        assert snap_compare(app(snaps), terminal_size=(80, 24), run_before=showing("1", N + 1))

    def test_pool_with_a_leak(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        """A leaked buffer: the pool is listed first, red, with where it was acquired."""
        snaps = [*history(N - 1), snapshot(N - 1, leak=True)]
        assert snap_compare(app(snaps), terminal_size=(120, 40), run_before=showing("5"))

    @pytest.mark.parametrize("key", ["4", "5"], ids=["caches", "pools"])
    def test_empty_state_explains_itself(self, snap_compare, key: str) -> None:  # type: ignore[no-untyped-def]
        """No caches or pools: the pane says how to get one, rather than showing zeros."""
        snaps = [snapshot(i, empty=True) for i in range(5)]
        assert snap_compare(app(snaps), terminal_size=(80, 24), run_before=showing(key, 5))

    def test_gc_out_of_reach(self, snap_compare) -> None:  # type: ignore[no-untyped-def]
        """Watching from outside: the GC pane says why it is empty and how to fix it."""
        snaps = [snapshot(i, gc_visible=False) for i in range(5)]
        assert snap_compare(
            app(snaps, local_interpreter=False), terminal_size=(80, 24), run_before=showing("3", 5)
        )


N_RANGE = range(N)


class TestReplay:
    """A recorded session (a real engine crossing tiers, written to a real history file),
    stepped back to its HIGH moment: the Overview shows that moment, the timeline where it
    is, and the footer only the keys a recording has."""

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_at_an_event(self, snap_compare, tmp_path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
        import asyncio

        from tests.helpers.recorded import START, record
        from tui_perf.dashboard.replay import ReplaySource
        from tui_perf.store.recording import Recording

        path = tmp_path / "history.db"
        asyncio.run(record(path))
        replay = Dashboard(
            ReplaySource(Recording.open(path)), show_widget_stats=False, chart_interval=0
        )

        async def run_before(pilot: Pilot[None]) -> None:
            for _ in range(300):  # the first frame (the end), read in a thread
                latest = pilot.app.history.latest  # type: ignore[attr-defined]
                if latest is not None and latest.timestamp == START + 296:
                    break
                await pilot.pause(0.01)
            await pilot.press("left_square_bracket", "left_square_bracket")
            for _ in range(300):
                latest = pilot.app.history.latest  # type: ignore[attr-defined]
                if latest is not None and latest.tier == "HIGH":
                    break
                await pilot.pause(0.01)
            await pilot.pause()

        assert snap_compare(replay, terminal_size=size, run_before=run_before)
