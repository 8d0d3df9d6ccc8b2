"""`tui-perf top`: rows from real agents in child processes, one killed mid-test; the pure
views (sort, trend, status) on scripted members."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.helpers.scripted import MiB
from tests.test_agent import Target
from tui_perf.dashboard.fleet import Fleet
from tui_perf.dashboard.top import TopApp
from tui_perf.model.advice import AdviceStats, Finding
from tui_perf.model.snapshot import (
    CacheStats,
    GCStats,
    MemorySample,
    PoolStats,
    Snapshot,
    TierStats,
)
from tui_perf.views.fleet import (
    MemberView,
    fleet_row,
    fleet_summary,
    slope_per_min,
    sort_rows,
    sparkline,
)
from tui_perf.widgets.fleet import FleetPane


@pytest.fixture
def agents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Target]]:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))  # discovery sees these five only
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "PYTHONPATH": str(ROOT)}
    started = [Target(env) for _ in range(5)]
    yield started
    for agent in started:
        agent.finish()


async def _until(pilot, condition, what: str, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    """Real processes on a real clock: wait for what they do, with a deadline."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_top_over_five_real_agents_shows_a_killed_one_as_gone(agents: list[Target]) -> None:
    app = TopApp(Fleet(), refresh_s=0.1)
    async with app.run_test(size=(160, 20)) as pilot:

        def live() -> dict[int | None, int]:
            return {r.pid: r.rss or 0 for r in app.rows if r.status == "live"}

        await _until(pilot, lambda: len(live()) == 5, "five live rows")
        assert {r.pid for r in app.rows} == {a.proc.pid for a in agents}
        assert all(
            r.command.startswith("-m tests.helpers.agent_target") or "agent_target" in r.command
            for r in app.rows
        )

        def seqs() -> dict[str, int]:
            return {v.address: v.latest.seq for v in app.fleet.views() if v.latest is not None}

        victim = agents[2]
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait(10)  # reaped, as its parent shell would
        before = seqs()
        await _until(
            pilot,
            lambda: any(r.pid == victim.proc.pid and r.status == "gone" for r in app.rows),
            "the killed agent shown as gone",
        )
        # the others keep updating
        await _until(
            pilot,
            lambda: all(seqs()[a] > before[a] for a in before if a != victim.address),
            "the other four to send new snapshots",
        )
        rows = app.rows
        assert [r.status for r in rows] == ["live"] * 4 + ["gone"]  # gone ones last
        assert rows[-1].pid == victim.proc.pid and rows[-1].status_text.startswith("gone")
        pane = app.query_one(FleetPane)
        assert "4 live" in str(pane.query_one("#fleet-summary").render())
        assert "1 gone" in str(pane.query_one("#fleet-summary").render())

        # Enter on the gone row says so; on a live one the app leaves with its address
        table = pane.query_one("#fleet-table")
        table.move_cursor(row=4)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        assert app.return_value is None and any(
            "gone" in str(n.message) for n in app._notifications
        )
        table.move_cursor(row=0)  # type: ignore[attr-defined]
        picked = pane.selected()
        await pilot.pause(0.3)  # redraws happen meanwhile; the cursor stays on its process
        assert pane.selected() == picked
        await pilot.press("enter")
        await pilot.pause()
    assert app.return_value == picked


async def test_an_agent_started_later_joins_the_list(agents: list[Target], tmp_path: Path) -> None:
    app = TopApp(Fleet(), refresh_s=0.1)
    async with app.run_test(size=(160, 20)) as pilot:
        await _until(pilot, lambda: sum(r.status == "live" for r in app.rows) == 5, "five")
        late = Target({**os.environ, "PYTHONPATH": str(ROOT)})
        agents.append(late)  # the fixture finishes it
        app.fleet.find_local()  # what the discovery task does every few seconds
        await _until(
            pilot,
            lambda: any(r.pid == late.proc.pid and r.status == "live" for r in app.rows),
            "the sixth",
        )


def snap(
    pid: int,
    *,
    rss: int = 100 * MiB,
    tier: str = "NORMAL",
    cpu: float = 1.0,
    caches: tuple[CacheStats, ...] = (),
    pools: tuple[PoolStats, ...] = (),
    advice: AdviceStats | None = None,
) -> Snapshot:
    memory = MemorySample(timestamp=1.0, rss=rss, vms=rss, cpu_percent=cpu, num_threads=2)
    zeros = (0, 0, 0)
    gc = GCStats(True, zeros, (700, 10, 10), zeros, zeros, zeros, gc_time_fraction=0.12)
    return Snapshot(
        timestamp=1.0, pid=pid, seq=1, memory=memory, tier=tier, gc=gc,
        caches=caches, pools=pools, advice=advice,
    )  # fmt: skip


def member(
    pid: int, latest: Snapshot | None, status: str = "live", rss: tuple[int, ...] = ()
) -> MemberView:
    times = tuple(float(i) for i in range(len(rss)))
    return MemberView(f"/s/{pid}", pid, f"app{pid}.py", status, "", 12.0, latest, rss, times)


def test_a_row_carries_the_figures_a_person_scans_for() -> None:
    caches = (
        CacheStats("users", (TierStats("L1", "memory", hits=90, misses=10),)),
        CacheStats("pages", (TierStats("L1", "memory", hits=30, misses=70),)),
    )
    pools = (PoolStats("db", "connections", healthy=False, reason="waits p95 80 ms"),)
    finding = Finding("gc-time-share", "critical", "GC takes 12% of wall time", (), "60 s")
    row = fleet_row(
        member(7, snap(7, caches=caches, pools=pools, advice=AdviceStats(findings=(finding,))))
    )
    assert (row.worst_cache, row.worst_hit_rate) == ("pages", 0.3)  # the worst, not the first
    assert row.pools == "db: waits p95 80 ms" and row.pools_bad == 1
    assert row.finding == "critical: GC takes 12% of wall time" and row.finding_rank == 2
    assert row.gc_share == 0.12
    cells = row.cells()
    assert "30% pages" in cells and "critical: GC takes 12% of wall time" in cells


def test_sorting_puts_the_most_worrying_first_and_the_gone_last() -> None:
    rows = [
        fleet_row(member(1, snap(1, rss=500 * MiB, cpu=5))),
        fleet_row(member(2, snap(2, rss=100 * MiB, tier="HIGH", cpu=80))),
        fleet_row(member(3, snap(3, rss=900 * MiB, tier="CRITICAL"), status="gone")),
        fleet_row(member(4, None, status="connecting")),
    ]
    assert [r.pid for r in sort_rows(rows, "tier")] == [2, 1, 4, 3]
    assert [r.pid for r in sort_rows(rows, "rss")] == [1, 2, 4, 3]
    assert [r.pid for r in sort_rows(rows, "cpu")] == [2, 1, 4, 3]
    assert [r.pid for r in sort_rows(rows, "rss", reverse=True)][-1] == 3  # still last
    # figures that look the same keep the pid order: no trading places every second
    same = [fleet_row(member(p, snap(p, rss=100 * MiB + p * 1000))) for p in (9, 8, 7)]
    assert [r.pid for r in sort_rows(same, "rss")] == [7, 8, 9]
    assert "1 gone" in fleet_summary(rows, "tier") and "1 at HIGH or above" in fleet_summary(
        rows, "tier"
    )
    assert "no agents running" in fleet_summary([], "tier")
    assert fleet_summary(rows[:1], "tier").startswith("1 process · ")
    assert fleet_summary(rows, "tier").startswith("4 processes · ")


def test_the_trend_shows_the_shape_and_the_slope() -> None:
    rising = tuple(100 * MiB + i * MiB for i in range(60))  # 1 MiB a second
    assert sparkline(rising)[0] == "▁" and sparkline(rising)[-1] == "█"
    assert sparkline((5, 5, 5)) == "▁▁▁" and sparkline(()) == ""
    # a few hundred KiB on 30 MiB is not drawn as a climb
    assert max(sparkline(tuple(30 * MiB + i * 4096 for i in range(60)))) <= "▂"
    slope = slope_per_min(tuple(float(i) for i in range(60)), rising)
    assert slope is not None and abs(slope - 60 * MiB) < 1
    row = fleet_row(member(1, snap(1), rss=rising))
    assert row.trend_text().endswith(" +60 MiB/min")
    flat = fleet_row(member(1, snap(1), rss=(100 * MiB,) * 10))
    assert flat.trend_text() == "▁" * 8  # no slope shown under 256 KiB a minute
    slow = fleet_row(member(1, snap(1), rss=tuple(100 * MiB + i * 3000 for i in range(60))))
    assert slow.trend_text() == slow.trend  # 176 KiB a minute: under the line, bars only
    growing = tuple(100 * MiB + i * 12345 for i in range(60))  # 723.3 KiB a minute
    assert fleet_row(member(1, snap(1), rss=growing)).trend_text().endswith(" +720 KiB/min")


async def test_escape_in_a_dashboard_opened_from_top_goes_back() -> None:
    from tui_perf.dashboard.app import Dashboard
    from tui_perf.dashboard.sources import ScriptedSource

    app = Dashboard(ScriptedSource([snap(1)]), back_to="top", show_widget_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("escape")
        await pilot.pause()
    assert app.went_back


def test_top_refuses_bad_addresses_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from tui_perf.cli.main import main

    assert main(["top", "nonsense"]) != 0
    assert main(["top", "10.0.0.1:9000"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "neither a socket path nor HOST:PORT" in err[0] and "--token" in err[1]


async def test_an_address_that_never_answers_says_why() -> None:
    from tests.conftest import _free_port
    from tests.helpers.scripted import FakeClock
    from tui_perf.views.fleet import status_text

    clock = FakeClock()
    fleet = Fleet((f"127.0.0.1:{_free_port()}",), token="t", discover=False, clock=clock)
    await fleet.start()
    try:
        clock.advance(5)  # past the first retries: it is still connecting
        await fleet.explain_waiting()
        (view,) = fleet.views()
        assert view.status == "connecting"
        assert "refused" in status_text(view).lower()
    finally:
        await fleet.close()


async def test_a_wrong_token_is_said_on_the_row(tmp_path: Path) -> None:
    from tui_perf.views.fleet import status_text

    env = {**os.environ, "PYTHONPATH": str(ROOT), "TARGET_TCP_TOKEN": "the-right-one"}
    env["XDG_RUNTIME_DIR"] = str(tmp_path)
    agent = Target(env)
    fleet = Fleet((agent.address,), token="a-wrong-one", discover=False)
    await fleet.start()
    try:
        for _ in range(200):  # a real agent on a real socket: wait for its answer
            views = fleet.views()
            if views and "wrong or missing token" in status_text(views[0]):
                break
            await asyncio.sleep(0.05)
        (view,) = fleet.views()
        assert view.latest is None and "wrong or missing token" in status_text(view)
    finally:
        await fleet.close()
        agent.finish()


def test_odd_socket_names_in_the_runtime_folder_are_not_agents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any file a user can write there: none may stop `top` from listing the rest."""
    from tui_perf.agent.client import list_agents

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    folder = tmp_path / "tui-perf"
    folder.mkdir(mode=0o700)
    for name in ("agent-².sock", "agent-99999999999999999999999.sock", "agent-x.sock"):
        (folder / name).touch()
    (folder / f"agent-{os.getpid()}.sock").touch()
    assert list_agents() == [(os.getpid(), folder / f"agent-{os.getpid()}.sock", True)]


async def test_a_row_not_connected_yet_is_not_opened_and_the_cursor_starts_where_asked() -> None:
    from tests.conftest import _free_port

    address = f"127.0.0.1:{_free_port()}"  # nothing listens there
    app = TopApp(Fleet((address,), token="t", discover=False), refresh_s=0.1, select=address)
    async with app.run_test(size=(160, 20)) as pilot:
        await _until(pilot, lambda: bool(app.rows), "the row")
        assert app.query_one(FleetPane).selected() == address
        await pilot.press("enter")
        await pilot.pause()
        assert any("not connected yet" in str(n.message) for n in app._notifications)
    assert app.return_value is None


def test_no_slope_from_a_few_seconds_of_points() -> None:
    # two samples a second apart would read as a minute's rate of one allocation
    assert slope_per_min((0.0, 1.0), (100 * MiB, 103 * MiB)) is None
    assert slope_per_min((0.0, 20.0), (100 * MiB, 110 * MiB)) == pytest.approx(30 * MiB)


@pytest.mark.parametrize(
    ("says", "reason"),
    [(None, "no tui-perf agent answered"), (b"HTTP/1.1 400 Bad Request\r\n", "not to a tui-perf")],
)
async def test_a_port_that_answers_but_is_no_agent_is_named(
    says: bytes | None, reason: str
) -> None:
    """A proxy may accept any connection: "connecting…" must still say why nothing comes."""
    from tests.helpers.scripted import FakeClock
    from tui_perf.views.fleet import status_text

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if says is not None:
            writer.write(says)
            await writer.drain()
        await reader.read()  # hold the connection until the other side closes

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clock = FakeClock()
    fleet = Fleet((f"127.0.0.1:{port}",), token="t", discover=False, clock=clock)
    await fleet.start()
    try:
        clock.advance(5)
        await fleet.explain_waiting()
        (view,) = fleet.views()
        assert view.status == "connecting" and reason in status_text(view)
    finally:
        await fleet.close()
        server.close()
