"""HistoryStore on real SQLite files: batching, migration, retention, refusal, crash safety."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, is_root
from tests.helpers.scripted import FakeClock
from tests.helpers.users import in_child_as_nobody
from tui_perf.model.errors import HistoryFileError
from tui_perf.model.snapshot import Event, MemorySample, Snapshot
from tui_perf.store.history import MIGRATIONS, SCHEMA_VERSION, HistoryStore, Retention


def snap(
    ts: float, rss: int = 100, tier: str = "NORMAL", events: tuple[Event, ...] = ()
) -> Snapshot:
    memory = MemorySample(timestamp=ts, rss=rss, vms=rss * 2, cpu_percent=1.0, num_threads=1)
    return Snapshot(timestamp=ts, pid=7, seq=int(ts), memory=memory, tier=tier, events=events)


def rows(path: Path, table: str = "samples") -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


async def test_rows_wait_for_a_full_batch_then_land_together(tmp_db: Path) -> None:
    store = await HistoryStore.open(tmp_db, batch_rows=3, batch_seconds=1e9)
    await store.add_snapshot(snap(1))
    await store.add_snapshot(snap(2))
    assert rows(tmp_db) == 0 and store.pending == 2
    await store.add_snapshot(snap(3))
    assert rows(tmp_db) == 3 and store.pending == 0
    await store.close()


async def test_rows_flush_after_batch_seconds_on_the_injected_clock(tmp_db: Path) -> None:
    clock = FakeClock()
    store = await HistoryStore.open(tmp_db, batch_rows=1000, batch_seconds=5, clock=clock)
    await store.add_snapshot(snap(1))
    assert rows(tmp_db) == 0
    clock.advance(5)
    await store.add_snapshot(snap(2))
    assert rows(tmp_db) == 2
    await store.close()


async def test_close_flushes_and_queries_read_back_by_time_range(tmp_db: Path) -> None:
    event = Event(2.5, "tier", "NORMAL -> HIGH", "warning")
    async with await HistoryStore.open(tmp_db, batch_rows=1000) as store:
        for ts in (1, 2, 3, 4):
            await store.add_snapshot(snap(ts, rss=ts * 10, events=(event,) if ts == 3 else ()))
    assert rows(tmp_db) == 4
    async with await HistoryStore.open(tmp_db) as store:
        series = await store.memory_series(2, 3)
        assert [(p.ts, p.rss) for p in series] == [(2.0, 20), (3.0, 30)]
        assert await store.events(0, 10) == [event]
        assert await store.events(3, 10) == []


async def test_the_file_is_in_wal_mode_with_the_current_schema(tmp_db: Path) -> None:
    async with await HistoryStore.open(tmp_db):
        pass
    with sqlite3.connect(tmp_db) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION


async def test_a_version_1_file_is_migrated_keeping_its_rows(tmp_db: Path) -> None:
    with sqlite3.connect(tmp_db) as db:  # what tui-perf's first schema wrote
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.executescript(MIGRATIONS[0])
        db.execute("INSERT INTO schema_version VALUES (1)")
        db.execute("INSERT INTO samples VALUES (10.0, 7, 500, 900, NULL, 2.0, 'HIGH')")
        db.execute("INSERT INTO events VALUES (10.0, 'tier', 'warning', 'went HIGH')")
    async with await HistoryStore.open(tmp_db) as store:
        (point,) = await store.memory_series()
        assert (point.rss, point.rss_max, point.tier, point.resolution) == (500, 500, "HIGH", 0)
        assert [e.message for e in await store.events()] == ["went HIGH"]
        await store.add_bench_run("r1", "b", "g", 10, [1.0, 2.0], 1.5, 0.5, {"py": "3.11"})
        (run,) = await store.bench_runs(name="b")
        assert run.values == (1.0, 2.0) and run.metadata == {"py": "3.11"}


async def test_a_file_from_a_newer_tui_perf_is_refused(tmp_db: Path) -> None:
    async with await HistoryStore.open(tmp_db):
        pass
    with sqlite3.connect(tmp_db) as db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(HistoryFileError, match="newer tui-perf"):
        await HistoryStore.open(tmp_db)


async def test_retention_folds_old_samples_into_buckets_and_expires_the_oldest(
    tmp_db: Path,
) -> None:
    now = 100_000.0
    retention = Retention(raw_seconds=1000, bucket_seconds=60, max_age_seconds=50_000)
    async with await HistoryStore.open(tmp_db, retention=retention) as store:
        await store.add_snapshot(snap(now - 60_000, rss=1))  # past max age: deleted
        for i in range(120):  # two minutes of 1 s samples, 10000 s ago: folded
            await store.add_snapshot(
                snap(now - 10_020 + i, rss=100 + i, tier="HIGH" if i == 5 else "NORMAL")
            )
        await store.add_snapshot(snap(now - 10, rss=7))  # recent: kept raw
        await store.add_event(Event(now - 60_000, "old", "gone"))
        folded, deleted = await store.apply_retention(now)
        # Deleted for age: the sample, the event and the whole-snapshot frame kept with it.
        assert (folded, deleted) == (120, 3)
        series = await store.memory_series()
    # Frames older than raw_seconds are thinned to the first of each bucket, as samples fold.
    assert rows(tmp_db, "frames") == 3 + 1
    buckets = [p for p in series if p.resolution == 60]
    assert len(buckets) == 3  # 120 s starting mid-bucket spans three 60 s buckets
    assert sum(1 for p in series if p.resolution == 0) == 1
    assert max(p.rss_max for p in buckets) == 219  # the peak survives folding
    assert any(p.tier == "HIGH" for p in buckets)  # the worst tier survives folding
    assert all(100 <= p.rss <= 219 for p in buckets)


async def test_a_bucket_straddling_the_fold_boundary_is_folded_once_with_the_right_mean(
    tmp_db: Path,
) -> None:
    """Two retention passes, the first with its boundary mid-bucket: one row per bucket."""
    retention = Retention(raw_seconds=100, bucket_seconds=60, max_age_seconds=10**9)
    async with await HistoryStore.open(tmp_db, retention=retention) as store:
        for i in range(120):  # samples at 6000..6119 s: buckets 6000 and 6060
            await store.add_snapshot(snap(6000 + i, rss=1000 + i))
        await store.apply_retention(now=6190)  # boundary 6090: mid-bucket 6060
        await store.apply_retention(now=6300)  # now everything is older than 100 s
        series = await store.memory_series()
    rows = [(p.ts, p.rss) for p in series]
    assert rows == [(6000, 1000 + 29), (6060, 1060 + 29)]  # int(mean(i)) over each minute


async def test_rows_a_failed_flush_could_not_write_are_kept_and_written_later(
    tmp_db: Path,
) -> None:
    """The disk fills (max_page_count), the flush fails; once there is room, nothing is lost."""
    async with await HistoryStore.open(tmp_db, batch_rows=10**6) as store:
        async with store._pool.connection() as db:
            cur = await db.execute("PRAGMA page_count")
            row = await cur.fetchone()
            assert row is not None
            await db.execute(f"PRAGMA max_page_count = {row[0]}")  # full: no page to grow
        for i in range(500):
            await store.add_snapshot(snap(1000 + i))
        with pytest.raises(sqlite3.OperationalError, match="full"):
            await store.flush()
        assert store.pending == 500
        async with store._pool.connection() as db:
            await db.execute("PRAGMA max_page_count = 1073741823")  # room again
        assert await store.flush() == 500
        assert len(await store.memory_series()) == 500


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(tmp_db: Path) -> None:
    tmp_db.write_bytes(b"these are my notes, not a database\n" * 100)
    before = _digest(tmp_db)
    with pytest.raises(HistoryFileError, match=r"not a tui-perf history file.*untouched"):
        await HistoryStore.open(tmp_db)
    assert _digest(tmp_db) == before
    assert not Path(f"{tmp_db}-wal").exists()


async def test_a_corrupt_database_is_refused_and_left_untouched(tmp_db: Path) -> None:
    async with await HistoryStore.open(tmp_db, batch_rows=1) as store:
        for ts in range(200):
            await store.add_snapshot(snap(ts))
    data = bytearray(tmp_db.read_bytes())
    data[100:4096] = os.urandom(4096 - 100)  # the schema page, past the 100-byte header
    tmp_db.write_bytes(bytes(data))
    before = _digest(tmp_db)
    with pytest.raises(HistoryFileError, match="corrupt"):
        await HistoryStore.open(tmp_db)
    assert _digest(tmp_db) == before


def test_an_unreadable_file_is_refused_with_permission_named() -> None:
    import tempfile

    # pytest's own temp root is 0700, which another user cannot even pass through.
    holder = tempfile.TemporaryDirectory(prefix="tui-perf-perm-")
    folder = Path(holder.name)
    folder.chmod(0o755)
    path = folder / "history.db"
    path.write_bytes(b"")
    path.chmod(0)

    def attempt() -> int:
        import asyncio

        try:
            asyncio.run(HistoryStore.open(path))
        except HistoryFileError as exc:
            return 0 if "permission denied" in str(exc) else 3
        return 4

    with holder:
        if is_root():
            assert in_child_as_nobody(attempt)[0] == 0
        else:
            assert attempt() == 0


def test_a_directory_in_place_of_the_file_is_refused(tmp_path: Path) -> None:
    import asyncio

    with pytest.raises(HistoryFileError, match="is a directory"):
        asyncio.run(HistoryStore.open(tmp_path))


def test_killing_a_writer_mid_stream_never_corrupts_and_loses_at_most_one_batch(
    tmp_db: Path,
) -> None:
    """SIGKILL a writing process 20 times; every time the file is sound and complete."""
    rng = random.Random(20261122)
    batch = 25
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    total = 0
    for _ in range(20):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.helpers.store_writer",
                str(tmp_db),
                str(total),
                str(batch),
            ],
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=env,
            text=True,
        )
        assert proc.stdout is not None
        acked = total
        for _ in range(rng.randint(1, 6)):
            line = proc.stdout.readline()
            assert line, "the writer died on its own"
            acked = int(line)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with sqlite3.connect(tmp_db) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            seqs = [r[0] for r in db.execute("SELECT rss FROM samples ORDER BY ts")]
        # Everything acknowledged is there, in order, and only whole batches: the writer may
        # commit more between our last read and the kill (a loaded machine), never a part.
        assert seqs == list(range(1, len(seqs) + 1))
        assert acked <= len(seqs) and (len(seqs) - total) % batch == 0
        total = len(seqs)
