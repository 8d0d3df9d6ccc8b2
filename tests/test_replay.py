"""Replay: frames kept beside the samples, a recording read back, the dashboard over it.

The recording is written by a real engine (scripted probe and clock) crossing tiers,
through the real `HistoryStore`, into a real SQLite file.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sqlite3
import time
from itertools import pairwise
from pathlib import Path

import pytest

from tests.helpers.recorded import SCRIPT, START, record
from tests.helpers.scripted import MiB
from tui_perf.cli.main import main
from tui_perf.cli.replay import parse_when
from tui_perf.dashboard.app import Dashboard
from tui_perf.dashboard.replay import ReplaySource
from tui_perf.model.errors import ConfigError, HistoryFileError
from tui_perf.model.snapshot import Event
from tui_perf.store.frames import FrameKeeper, FramePolicy
from tui_perf.store.history import HistoryStore, Retention
from tui_perf.store.recording import Recording
from tui_perf.views.replay import timeline_cells

os.environ["TZ"] = "UTC"
time.tzset()

ELEVATED_AT = START + 121  # the tick whose RSS first crosses into ELEVATED
HIGH_AT = START + 181
NORMAL_AGAIN_AT = START + 211


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "history.db"
    asyncio.run(record(path))
    return path


# -- what is kept ----------------------------------------------------------------------


def test_frames_are_kept_every_interval_and_at_each_tier_change(recorded: Path) -> None:
    with sqlite3.connect(recorded) as db:
        rows = db.execute("SELECT ts, tier FROM frames ORDER BY ts").fetchall()
    times = [r[0] for r in rows]
    assert {ELEVATED_AT, HIGH_AT, NORMAL_AGAIN_AT} <= set(times)  # the moments a person wants
    gaps = [b - a for a, b in pairwise(times)]
    assert max(gaps) <= 5.0  # never longer than the policy's interval
    ticks = sum(s for s, _ in SCRIPT)
    assert len(rows) < ticks / 4  # and far fewer than the 1 Hz samples


def test_a_frame_is_kept_when_the_ladder_ran_or_benchmarks_arrived() -> None:
    from tests.helpers.dashboard import cleanup, snapshot

    keeper = FrameKeeper(FramePolicy(every_s=60))
    assert keeper.keep(snapshot(0))  # the first
    assert not keeper.keep(snapshot(1))
    assert keeper.keep(snapshot(2, cleanups=(cleanup(2),)))
    assert not keeper.keep(snapshot(3))


async def test_retention_thins_old_frames_to_one_per_bucket_and_expires_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "h.db"
    await record(path, every_s=1.0)  # a frame per tick: 300 of them
    end = START + 300
    retention = Retention(raw_seconds=100, bucket_seconds=60, max_age_seconds=250)
    async with await HistoryStore.open(path, retention=retention) as store:
        await store.apply_retention(now=end)
    with sqlite3.connect(path) as db:
        times = [r[0] for r in db.execute("SELECT ts FROM frames ORDER BY ts")]
    assert min(times) >= end - 250  # expired ones are gone
    old = [t for t in times if t < end - 100 - 60]
    buckets = [int(t // 60) for t in old]
    assert old and len(buckets) == len(set(buckets))  # one per bucket where folded
    assert len([t for t in times if t >= end - 100]) >= 99  # the recent ones untouched


# -- reading it back -------------------------------------------------------------------


def test_a_recording_reads_its_timeline_and_the_window_at_any_frame(recorded: Path) -> None:
    r = Recording.open(recorded)
    assert r.process.pid == 4242
    assert r.times == sorted(r.times) and r.times[0] == START + 1
    at_high = r.times.index(HIGH_AT)
    window = r.window(at_high, 60)
    assert window[-1].tier == "HIGH" and window[-1].timestamp == HIGH_AT
    assert window[0].timestamp >= HIGH_AT - 60
    assert [e.kind for e in r.events] == ["tier", "tier", "tier"]
    assert r.events_until(HIGH_AT)[-1].message.startswith("ELEVATED -> HIGH")


def test_a_damaged_frame_is_skipped_and_counted(tmp_path: Path, recorded: Path) -> None:
    path = tmp_path / "damaged.db"
    path.write_bytes(recorded.read_bytes())
    with sqlite3.connect(path) as db:
        db.execute("UPDATE frames SET body = x'00ff' WHERE ts = ?", (HIGH_AT,))
    r = Recording.open(path)
    at_high = r.times.index(HIGH_AT)
    assert all(s.timestamp != HIGH_AT for s in r.window(at_high, 30))
    assert r.damaged == 1


@pytest.mark.parametrize(
    ("row", "opens"),
    [
        ((START, 7, "NORMAL", None), True),  # a body that is not bytes: damaged
        ((START, 7, "NORMAL", "text"), True),
        ((START, 7, "NORMAL", 10**15), True),  # bytes(10**15) would allocate a petabyte
        ((START, 7, None, b"x"), True),
        (("abc", 7, "NORMAL", b"x"), False),  # rows no run writes are not the session's
        ((1e300, 7, "NORMAL", b"x"), False),
        ((START, None, "NORMAL", b"x"), False),
        ((START, 7.5, "NORMAL", b"x"), False),
    ],
)
def test_hostile_rows_are_damaged_frames_or_no_session_never_a_crash(
    tmp_path: Path, row: tuple[object, ...], opens: bool
) -> None:
    path = tmp_path / "hostile.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE frames (ts, pid, tier, body);"
            "CREATE TABLE events (ts, kind, level, message, pid);"
            "CREATE TABLE processes (pid, started, command, first_seen);"
        )
        db.execute("INSERT INTO frames VALUES (?, ?, ?, ?)", row)
        db.execute("INSERT INTO processes VALUES ('x', 0, 'c', 0)")  # and a bad pid here
    if not opens:
        with pytest.raises(HistoryFileError, match="no recorded session"):
            Recording.open(path)
        return
    r = Recording.open(path)
    assert r.frames(0, len(r)) == [] and r.damaged == 1


def test_a_file_without_an_events_table_says_so(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE frames (ts, pid, tier, body)")
        db.execute("INSERT INTO frames VALUES (?, 7, 'NORMAL', x'00')", (START,))
    with pytest.raises(HistoryFileError, match="no such table: events"):
        Recording.open(path)


def test_a_frame_that_would_inflate_past_the_limit_is_refused_not_read() -> None:
    import zlib

    from tui_perf.model.errors import SnapshotFormatError
    from tui_perf.store.frames import MAX_FRAME, decode

    bomb = zlib.compress(b" " * (MAX_FRAME + 1), 9)  # 16 KB that would be 16 MiB
    with pytest.raises(SnapshotFormatError, match="larger than"):
        decode(bomb)
    deep = zlib.compress(b"[" * 100_000 + b"]" * 100_000)  # json.loads would recurse out
    with pytest.raises(SnapshotFormatError, match="damaged"):
        decode(deep)


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        ("missing", "no history file at"),
        ("old", "holds no recorded session to replay"),
        ("garbage", "is not a readable tui-perf history file"),
    ],
)
def test_a_file_that_cannot_be_replayed_says_why(tmp_path: Path, setup: str, needle: str) -> None:
    path = tmp_path / "h.db"
    if setup == "old":  # a history file with samples but no frames table
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE samples (ts REAL)")
    elif setup == "garbage":
        path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(HistoryFileError, match=needle):
        Recording.open(path)


def test_an_unknown_pid_lists_the_recorded_ones(recorded: Path) -> None:
    with pytest.raises(HistoryFileError, match=r"no frames of pid 7 .*recorded: 4242"):
        Recording.open(recorded, pid=7)


def test_a_time_range_with_no_frames_says_when_it_was_recorded(recorded: Path) -> None:
    with pytest.raises(HistoryFileError, match="recorded from 2026-11-23 10:00:01"):
        Recording.open(recorded, start=START - 3600, end=START - 1800)


# -- the cursor ------------------------------------------------------------------------


def test_an_event_of_a_frames_own_tick_shows_at_that_frame(recorded: Path) -> None:
    """A snapshot's time is taken as its tick starts, its events' a few ms later: the
    frame at HIGH_AT shows an event stamped 10 ms after it, not the next frame."""
    r = Recording.open(recorded)
    late = Event(HIGH_AT + 0.01, "tier", "ELEVATED -> HIGH", "warning")
    assert r.times[r.first_showing(late)] == HIGH_AT


async def test_events_take_the_cursor_to_the_first_frame_that_shows_them(
    recorded: Path,
) -> None:
    source = ReplaySource(Recording.open(recorded))
    assert source.position().at == START + 296  # opens at the end
    event = source.jump_event(-1)
    assert event is not None and event.message.startswith("HIGH -> NORMAL")
    assert source.position().at == NORMAL_AGAIN_AT
    assert source.jump_event(-1) is not None and source.position().at == HIGH_AT
    assert source.jump_event(-1) is not None and source.position().at == ELEVATED_AT
    assert source.jump_event(-1) is None  # nothing before the first
    assert source.jump_event(1) is not None and source.position().at == HIGH_AT
    source.step(-1000)
    assert source.index == 0
    source.step(1)
    assert source.index == 1
    await source.close()


async def test_play_runs_at_the_chosen_speed_and_restarts_from_the_end(recorded: Path) -> None:
    source = ReplaySource(Recording.open(recorded))
    source.toggle_play()  # at the end: from the start
    assert source.playing and source.index == 0
    gap = source.recording.times[1] - source.recording.times[0]
    assert source._delay() == pytest.approx(gap / 1.0)
    assert source.next_speed() == 10.0 and source._delay() == pytest.approx(gap / 10.0)
    source.toggle_play()
    assert source._delay() is None  # paused: it waits for a key
    await source.close()


async def test_a_replay_refuses_every_command_with_the_reason(recorded: Path) -> None:
    source = ReplaySource(Recording.open(recorded))
    with pytest.raises(ConfigError, match=r"this is a recording.*tui-perf attach 4242\)"):
        await source.command("emergency_cleanup")
    await source.close()


def test_the_timeline_shows_tiers_events_and_gaps() -> None:
    times = [0.0, 5.0, 10.0, 15.0, 100.0, 105.0]
    tiers = ["NORMAL", "NORMAL", "HIGH", "NORMAL", "NORMAL", "NORMAL"]
    events = [Event(10.0, "tier", "NORMAL -> HIGH", "warning")]
    cells = timeline_cells(times, tiers, events, 22)
    assert cells[2].tier == "HIGH" and cells[2].event == "warning"
    assert cells[10].tier == ""  # 15 s .. 100 s: not recorded, a gap
    assert cells[-1].tier == "NORMAL"
    assert sum(1 for c in cells if c.event) == 1


# -- the dashboard ---------------------------------------------------------------------


async def test_the_dashboard_steps_to_an_event_and_shows_that_moments_tier(
    recorded: Path,
) -> None:
    app = Dashboard(ReplaySource(Recording.open(recorded)), show_widget_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _frames(pilot, app, START + 296)
        assert app.pane("overview").view.memory.tier == "NORMAL"  # type: ignore[union-attr]
        await pilot.press("left_square_bracket", "left_square_bracket")
        await _frames(pilot, app, HIGH_AT)
        view = app.pane("overview").view
        assert view is not None and view.memory.tier == "HIGH"
        assert view.memory.rss == 900 * MiB
        # the events pane holds what happened until the cursor, not after it
        assert [e.timestamp for e in app.history.events] == [ELEVATED_AT, HIGH_AT]
        # and shows each once however the cursor moves (back, then on again)
        await pilot.press("7", "left_square_bracket", "right_square_bracket", "comma")
        await pilot.pause()
        table = app.query_one("#events-table")
        await _frames(pilot, app, app.source.position().at)  # type: ignore[attr-defined]
        assert table.row_count == len(app.history.events)  # type: ignore[attr-defined]


async def test_the_start_up_heap_is_frozen_while_replaying_and_given_back_after(
    recorded: Path,
) -> None:
    """Jumps allocate; a full collection over the start-up heap cost 45 ms of one. The
    freeze must not outlive the dashboard: the process may go on."""
    assert gc.get_freeze_count() == 0
    app = Dashboard(ReplaySource(Recording.open(recorded)), show_widget_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _frames(pilot, app, START + 296)
        await pilot.pause()
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


async def test_the_dashboard_refuses_the_keys_that_act(recorded: Path) -> None:
    app = Dashboard(ReplaySource(Recording.open(recorded)), show_widget_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _frames(pilot, app, START + 296)
        for key in ("e", "g", "c", "b"):
            await pilot.press(key)
        await pilot.pause()
        said = [str(n.message) for n in app._notifications]
        assert len(said) == 4 and all("this is a recording" in m for m in said)
        assert not any(e.kind == "command" for e in app.history.events)  # nothing ran


async def _frames(pilot, app: Dashboard, at: float) -> None:  # type: ignore[no-untyped-def]
    for _ in range(500):
        latest = app.history.latest
        if latest is not None and latest.timestamp == at:
            await pilot.pause()
            return
        await pilot.pause(0.01)
    raise AssertionError(f"the replay did not reach {at}")


# -- the command line ------------------------------------------------------------------


def test_times_parse_as_a_person_types_them() -> None:
    last = START + 296  # 10:04:56 UTC
    assert parse_when("-90s", last, "--from") == last - 90
    assert parse_when("-2h", last, "--from") == last - 7200
    assert parse_when("10:02", last, "--from") == START + 120
    assert parse_when("11:00", last, "--from") == START + 3600 - 86400  # the day before
    assert parse_when("2026-11-23 10:03:01", last, "--to") == HIGH_AT
    with pytest.raises(ConfigError, match="--from: 'yesterday' is not a time"):
        parse_when("yesterday", last, "--from")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--from", "soon"], "--from: 'soon' is not a time"),
        (["--from", "10:04", "--to", "10:01"], "--from must come before --to"),
        # "-1m" after --from is its value, not an option (argparse alone would refuse it)
        (["--from", "-1m", "--to", "-2m"], "--from must come before --to"),
        (["--pid", "7"], "no frames of pid 7"),
    ],
)
def test_bad_replay_input_is_one_line(
    recorded: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    assert main(["replay", str(recorded), *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_replay_of_a_missing_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(tmp_path / "none.db")]) == 2
    assert "no history file at" in capsys.readouterr().err


async def test_playing_stops_at_the_last_frame_and_says_so(recorded: Path) -> None:
    source = ReplaySource(Recording.open(recorded))
    source.seek(len(source.recording) - 2)
    source.speed = 60.0  # a 5 s gap plays in 83 ms
    source.toggle_play()
    frames = source.frames()
    first = await anext(frames)
    assert first.position.playing
    last = await asyncio.wait_for(anext(frames), 5)
    assert last.position.index == len(source.recording) - 1
    assert not last.position.playing  # the label reads paused, not playing on
    await source.close()
