"""`HistoryStore`: snapshots, events and benchmark runs kept in SQLite through aiosqlite.

- WAL with `synchronous=NORMAL`: a committed batch survives the process being killed
  (SIGKILL included); only a power loss can take the last commits.
- Writes are batched: rows wait in memory until `batch_rows` rows or `batch_seconds` have
  gathered, or `flush()` / `close()`. A crash loses at most the batch not yet flushed.
- A schema version table and ordered migrations; a file from a newer tui-perf is refused.
- Retention: raw samples older than `raw_seconds` are folded into one row per bucket (mean
  and max RSS), frames (whole snapshots, `store.frames`) thinned to the first of each bucket,
  and everything older than `max_age_seconds` is deleted.
- A file that is not SQLite, or is corrupt, is refused *before* anything is written to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tui_perf.engine.sampler import Clock
from tui_perf.model.errors import HistoryFileError
from tui_perf.model.paths import default_history_path, private_dir, private_file
from tui_perf.model.snapshot import Event, Snapshot
from tui_perf.pools.connections import ConnectionPool
from tui_perf.store.frames import FrameKeeper, FramePolicy, encode

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import aiosqlite

SQLITE_HEADER = b"SQLite format 3\x00"

#: Ordered migrations; index i takes a database from version i to version i + 1.
MIGRATIONS: tuple[str, ...] = (
    # 1: samples and events.
    """
    CREATE TABLE samples (
        ts REAL NOT NULL, pid INTEGER NOT NULL, rss INTEGER NOT NULL, vms INTEGER NOT NULL,
        uss INTEGER, cpu_percent REAL NOT NULL, tier TEXT NOT NULL
    );
    CREATE TABLE events (ts REAL NOT NULL, kind TEXT NOT NULL, level TEXT NOT NULL,
                         message TEXT NOT NULL);
    """,
    # 2: down-sampling (resolution, rss_max), GC and cache figures, benchmark runs, indexes.
    """
    ALTER TABLE samples ADD COLUMN resolution REAL NOT NULL DEFAULT 0;
    ALTER TABLE samples ADD COLUMN rss_max INTEGER;
    ALTER TABLE samples ADD COLUMN gc_pause_p99_ms REAL;
    ALTER TABLE samples ADD COLUMN cache_hit_rate REAL;
    UPDATE samples SET rss_max = rss;
    CREATE INDEX samples_ts ON samples (ts);
    CREATE INDEX events_ts ON events (ts);
    CREATE TABLE bench_runs (
        id INTEGER PRIMARY KEY, ts REAL NOT NULL, name TEXT NOT NULL, grp TEXT NOT NULL,
        loops INTEGER NOT NULL, median_s REAL NOT NULL, stdev_s REAL NOT NULL,
        run_id TEXT NOT NULL, vals TEXT NOT NULL, metadata TEXT NOT NULL
    );
    CREATE INDEX bench_runs_name_ts ON bench_runs (name, ts);
    """,
    # 3: benchmark values by process (the unit of evidence) and the noise floor reported.
    """
    ALTER TABLE bench_runs ADD COLUMN sizes TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE bench_runs ADD COLUMN noise REAL;
    ALTER TABLE bench_runs ADD COLUMN refs TEXT NOT NULL DEFAULT '[]';
    """,
    # 4: which process a row is of: events get the pid, and each process its command line
    # and start time (a pid is reused by the system; with the start time it is not).
    """
    ALTER TABLE events ADD COLUMN pid INTEGER;
    CREATE TABLE processes (
        pid INTEGER NOT NULL, started REAL NOT NULL, command TEXT NOT NULL,
        first_seen REAL NOT NULL, PRIMARY KEY (pid, started)
    );
    """,
    # 5: whole snapshots at a lower rate, for replay (`store.frames`).
    """
    CREATE TABLE frames (
        ts REAL NOT NULL, pid INTEGER NOT NULL, tier TEXT NOT NULL, body BLOB NOT NULL
    );
    CREATE INDEX frames_pid_ts ON frames (pid, ts);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True, slots=True)
class Retention:
    """How long history is kept, as data."""

    raw_seconds: float = 6 * 3600
    bucket_seconds: float = 60.0
    max_age_seconds: float = 30 * 86400


@dataclass(frozen=True, slots=True)
class MemoryPoint:
    """One point of a memory series; `resolution` 0 is a raw sample, else a bucket width."""

    ts: float
    rss: int
    rss_max: int
    vms: int
    uss: int | None
    cpu_percent: float
    tier: str
    resolution: float
    pid: int = 0  # the process the sample is of (buckets keep it: they never mix processes)


@dataclass(frozen=True, slots=True)
class ProcessRow:
    """A process the history has rows of."""

    pid: int
    started: float
    command: str
    first_seen: float


@dataclass(frozen=True, slots=True)
class BenchRunRow:
    ts: float
    run_id: str
    name: str
    group: str
    loops: int
    median_s: float
    stdev_s: float
    values: tuple[float, ...]
    metadata: dict[str, Any]
    sizes: tuple[int, ...] = ()  # values per process, in order; () for one process
    noise: float | None = None  # the noise floor this run was judged with
    refs: tuple[float, ...] = ()  # each process's reference time (`bench.reference`)


def check_history_file(path: Path) -> None:
    """Refuse, without writing, a file that cannot be read or is not SQLite."""
    if not path.exists():
        parent = path.parent
        if parent.exists() and not parent.is_dir():
            raise HistoryFileError(f"{parent} is not a directory")
        return
    if path.is_dir():
        raise HistoryFileError(f"{path} is a directory, not a history file")
    try:
        with path.open("rb") as f:
            header = f.read(len(SQLITE_HEADER))
    except PermissionError as exc:
        raise HistoryFileError(f"cannot read history file {path}: permission denied") from exc
    except OSError as exc:
        raise HistoryFileError(f"cannot read history file {path}: {exc.strerror}") from exc
    if header and header != SQLITE_HEADER:
        raise HistoryFileError(
            f"{path} is not a tui-perf history file (not SQLite); it was left untouched"
        )


class HistoryStore:
    """Batched, crash-safe history on one SQLite file. Open with `await HistoryStore.open()`."""

    def __init__(
        self,
        pool: ConnectionPool,
        path: Path,
        *,
        batch_rows: int,
        batch_seconds: float,
        retention: Retention,
        clock: Clock,
        frames: FramePolicy | None = None,
    ) -> None:
        self._pool = pool
        self.path = path
        self.batch_rows = batch_rows
        self.batch_seconds = batch_seconds
        self.retention = retention
        self._clock = clock
        self._samples: list[tuple[Any, ...]] = []
        self._events: list[tuple[Any, ...]] = []
        self._processes: list[tuple[Any, ...]] = []  # (pid, started, command, first_seen)
        self._frames: list[tuple[float, int, str, bytes]] = []
        self._keeper = FrameKeeper(frames)
        self._seen_pids: set[int] = set()
        self._last_flush = clock()
        self._lock = asyncio.Lock()
        self._closed = False
        #: rows committed to disk so far by this store (samples + events)
        self.rows_written = 0

    @classmethod
    async def open(
        cls,
        path: str | Path | None = None,
        *,
        batch_rows: int = 60,
        batch_seconds: float = 5.0,
        retention: Retention | None = None,
        clock: Clock = time.monotonic,
        frames: FramePolicy | None = None,
    ) -> HistoryStore:
        """Open or create the store, migrating an older schema; raises `HistoryFileError`."""
        path = Path(path) if path is not None else default_history_path()
        check_history_file(path)
        try:
            private_dir(path.parent)  # 0700 for folders we make; the user's own are left alone
            private_file(path)  # 0600: it holds argv, events, benchmark metadata
        except OSError as exc:
            raise HistoryFileError(f"cannot create {path}: {exc.strerror}") from exc
        pool = ConnectionPool(
            path,
            min_size=0,
            max_size=2,
            acquire_timeout=5.0,
            setup=_pragmas,
            name=f"history {path.name}",
        )
        try:
            async with pool.connection() as db:
                await _prepare(db, path)
        except sqlite3.DatabaseError as exc:
            await pool.close()
            raise HistoryFileError(
                f"{path} is corrupt or not a tui-perf history file ({exc}); it was left untouched"
            ) from exc
        except BaseException:
            await pool.close()
            raise
        return cls(
            pool,
            path,
            batch_rows=batch_rows,
            batch_seconds=batch_seconds,
            retention=retention or Retention(),
            clock=clock,
            frames=frames,
        )

    async def __aenter__(self) -> HistoryStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- writing -----------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Rows waiting in memory for the next flush. Frames are not counted: each rides with
        its snapshot's sample row, so they never hold a batch open by themselves."""
        return len(self._samples) + len(self._events)

    async def add_snapshot(self, snap: Snapshot) -> None:
        """Queue a snapshot's memory figures and events, and the whole snapshot when the frame
        policy keeps it; flushes when a batch is full."""
        m = snap.memory
        hit_rates = [c.hit_rate for c in snap.caches if c.hit_rate is not None]
        self._samples.append(
            (
                snap.timestamp,
                snap.pid,
                m.rss,
                m.vms,
                m.uss,
                m.cpu_percent,
                snap.tier,
                0.0,
                m.rss,
                snap.gc.pause_p99_ms if snap.gc else None,
                sum(hit_rates) / len(hit_rates) if hit_rates else None,
            )
        )
        self._events.extend(
            (e.timestamp, e.kind, e.level, e.message, snap.pid) for e in snap.events
        )
        if self._keeper.keep(snap):
            self._frames.append((snap.timestamp, snap.pid, snap.tier, encode(snap)))
        if snap.pid not in self._seen_pids:
            self._seen_pids.add(snap.pid)
            self._processes.append((snap.pid, *_process_identity(snap.pid, snap.timestamp)))
        await self._maybe_flush()

    async def add_event(self, event: Event, pid: int | None = None) -> None:
        self._events.append((event.timestamp, event.kind, event.level, event.message, pid))
        await self._maybe_flush()

    async def _maybe_flush(self) -> None:
        if (
            self.pending >= self.batch_rows
            or self._clock() - self._last_flush >= self.batch_seconds
        ):
            await self.flush()

    async def flush(self) -> int:
        """Write every queued row in one transaction; returns how many were written."""
        async with self._lock:
            samples, events, frames = self._samples, self._events, self._frames
            self._samples, self._events, self._frames = [], [], []
            processes, self._processes = self._processes, []
            self._last_flush = self._clock()
            if not samples and not events and not frames:
                return 0
            try:
                async with self._pool.connection() as db:
                    await _insert_batch(db, samples, events, processes, frames)
            except BaseException:
                # Keep the rows for the next attempt rather than losing them.
                self._samples[:0], self._events[:0] = samples, events
                self._processes[:0], self._frames[:0] = processes, frames
                raise
            written = len(samples) + len(events)
            self.rows_written += written
            return written

    async def add_bench_run(
        self,
        run_id: str,
        name: str,
        group: str,
        loops: int,
        values: Sequence[float],
        median_s: float,
        stdev_s: float,
        metadata: dict[str, Any],
        ts: float | None = None,
        sizes: Sequence[int] = (),
        noise: float | None = None,
        refs: Sequence[float] = (),
    ) -> None:
        """Write one benchmark's values at once: benchmark runs are rare and precious."""
        async with self._pool.connection() as db:
            await db.execute(
                "INSERT INTO bench_runs (ts, run_id, name, grp, loops, median_s, stdev_s, vals,"
                " metadata, sizes, noise, refs) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    time.time() if ts is None else ts,
                    run_id,
                    name,
                    group,
                    loops,
                    median_s,
                    stdev_s,
                    json.dumps(list(values)),
                    json.dumps(metadata, sort_keys=True),
                    json.dumps(list(sizes)),
                    noise,
                    json.dumps(list(refs)),
                ),
            )

    async def close(self) -> None:
        """Flush what is queued and close the file."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.flush()
        finally:
            await self._pool.close()

    # -- retention ---------------------------------------------------------------------

    async def apply_retention(self, now: float | None = None) -> tuple[int, int]:
        """Fold old raw samples into buckets and delete expired rows.

        Returns (raw samples folded, rows deleted for age).
        """
        await self.flush()
        now = time.time() if now is None else now
        r = self.retention
        # Fold whole buckets only: a boundary inside a bucket would fold its first part now
        # and the rest later, into a second row at the same timestamp with a wrong mean.
        fold_before = math.floor((now - r.raw_seconds) / r.bucket_seconds) * r.bucket_seconds
        expire_before = now - r.max_age_seconds
        async with self._lock, self._pool.connection() as db:
            await db.execute("BEGIN")
            try:
                cur = await db.execute("DELETE FROM samples WHERE ts < ?", (expire_before,))
                deleted = cur.rowcount
                cur = await db.execute("DELETE FROM events WHERE ts < ?", (expire_before,))
                deleted += cur.rowcount
                cur = await db.execute("DELETE FROM frames WHERE ts < ?", (expire_before,))
                deleted += cur.rowcount
                # Older frames: the first of each (pid, bucket), as the samples are folded.
                await db.execute(
                    """
                    DELETE FROM frames WHERE ts < :before AND rowid NOT IN (
                        SELECT MIN(rowid) FROM frames WHERE ts < :before
                        GROUP BY pid, CAST(ts / :b AS INTEGER))
                    """,
                    {"b": r.bucket_seconds, "before": fold_before},
                )
                cur = await db.execute(
                    "SELECT COUNT(*) FROM samples WHERE resolution = 0 AND ts < ?", (fold_before,)
                )
                row = await cur.fetchone()
                folded = int(row[0]) if row else 0
                # One row per (pid, bucket): mean RSS, peak RSS, the worst tier seen.
                await db.execute(
                    """
                    INSERT INTO samples (ts, pid, rss, vms, uss, cpu_percent, tier, resolution,
                                         rss_max, gc_pause_p99_ms, cache_hit_rate)
                    SELECT CAST(ts / :b AS INTEGER) * :b, pid, CAST(AVG(rss) AS INTEGER),
                           CAST(AVG(vms) AS INTEGER), CAST(AVG(uss) AS INTEGER),
                           AVG(cpu_percent),
                           CASE MAX(CASE tier WHEN 'CRITICAL' THEN 3 WHEN 'HIGH' THEN 2
                                              WHEN 'ELEVATED' THEN 1 ELSE 0 END)
                                WHEN 3 THEN 'CRITICAL' WHEN 2 THEN 'HIGH'
                                WHEN 1 THEN 'ELEVATED' ELSE 'NORMAL' END,
                           :b, MAX(rss_max), MAX(gc_pause_p99_ms), AVG(cache_hit_rate)
                    FROM samples WHERE resolution = 0 AND ts < :before
                    GROUP BY pid, CAST(ts / :b AS INTEGER)
                    """,
                    {"b": r.bucket_seconds, "before": fold_before},
                )
                await db.execute(
                    "DELETE FROM samples WHERE resolution = 0 AND ts < ?", (fold_before,)
                )
                await db.execute("COMMIT")
            except BaseException:
                await _rollback(db)
                raise
        return folded, deleted

    # -- queries -----------------------------------------------------------------------

    async def memory_series(
        self,
        start: float = 0.0,
        end: float = float("inf"),
        pid: int | None = None,
        pids: Sequence[int] | None = None,
    ) -> list[MemoryPoint]:
        await self.flush()
        sql = (
            "SELECT ts, rss, rss_max, vms, uss, cpu_percent, tier, resolution, pid FROM samples"
            " WHERE ts >= ? AND ts <= ?"
        )
        args: list[Any] = [start, _sql_time(end)]
        if pid is not None:
            pids = [pid]
        if pids is not None:
            sql += f" AND pid IN ({','.join('?' * len(pids)) or 'NULL'})"
            args.extend(pids)
        async with self._pool.connection() as db, db.execute(sql + " ORDER BY ts", args) as cur:
            return [MemoryPoint(*row) for row in await cur.fetchall()]

    async def events(
        self, start: float = 0.0, end: float = float("inf"), pids: Sequence[int] | None = None
    ) -> list[Event]:
        """Events in the window; with `pids`, only those of these processes."""
        await self.flush()
        sql = "SELECT ts, kind, message, level FROM events WHERE ts >= ? AND ts <= ?"
        args: list[Any] = [start, _sql_time(end)]
        if pids is not None:
            sql += f" AND pid IN ({','.join('?' * len(pids)) or 'NULL'})"
            args.extend(pids)
        async with self._pool.connection() as db, db.execute(sql + " ORDER BY ts", args) as cur:
            return [Event(*row) for row in await cur.fetchall()]

    async def processes(self) -> list[ProcessRow]:
        """Every process the history has rows of: pid, start time, command line."""
        await self.flush()
        async with (
            self._pool.connection() as db,
            db.execute(
                "SELECT pid, started, command, first_seen FROM processes ORDER BY first_seen"
            ) as cur,
        ):
            return [ProcessRow(*row) for row in await cur.fetchall()]

    async def bench_runs(
        self, start: float = 0.0, end: float = float("inf"), name: str | None = None
    ) -> list[BenchRunRow]:
        sql = (
            "SELECT ts, run_id, name, grp, loops, median_s, stdev_s, vals, metadata, sizes,"
            " noise, refs FROM bench_runs WHERE ts >= ? AND ts <= ?"
        )
        args: list[Any] = [start, _sql_time(end)]
        if name is not None:
            sql += " AND name = ?"
            args.append(name)
        async with self._pool.connection() as db, db.execute(sql + " ORDER BY ts, id", args) as cur:
            rows = await cur.fetchall()
        out = []
        for ts, run_id, n, g, loops, med, sd, vals, meta, sizes, noise, refs in rows:
            row = _bench_row(ts, run_id, n, g, loops, med, sd, vals, meta, sizes, noise, refs)
            if row is not None:
                out.append(row)
        return out


def _process_identity(pid: int, now: float) -> tuple[float, str, float]:
    """(start time, command line, first seen) of a process, read once when it first appears;
    a process out of reach (gone, another host) is ("now", "?")."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.create_time(), " ".join(proc.cmdline())[:500] or proc.name(), now
    except (psutil.Error, OSError):
        return now, "?", now


def _bench_row(
    ts: Any,
    run_id: Any,
    name: Any,
    group: Any,
    loops: Any,
    median: Any,
    stdev: Any,
    vals: Any,
    meta: Any,
    sizes: Any,
    noise: Any,
    refs: Any,
) -> BenchRunRow | None:
    """One stored run, or None for a row that is not what we write (edited by hand, cut
    short): it is left out of verdicts and listings rather than stopping them."""
    try:
        values = tuple(float(v) for v in json.loads(vals))
        metadata = json.loads(meta)
        row = BenchRunRow(
            float(ts),
            str(run_id),
            str(name),
            str(group),
            int(loops),
            float(median),
            float(stdev),
            values,
            metadata if isinstance(metadata, dict) else {},
            tuple(int(n) for n in json.loads(sizes)),
            None if noise is None else float(noise),
            tuple(float(r) for r in json.loads(refs)),
        )
        readable = row.median_s > 0 and math.isfinite(row.median_s)
        readable = readable and all(math.isfinite(v) and v >= 0 for v in row.values)
        if not readable:
            raise ValueError("times must be finite, and the median above 0")
    except (TypeError, ValueError):
        log.warning("a benchmark row of %r could not be read; it is left out", name)
        return None
    return row


async def _rollback(db: aiosqlite.Connection) -> None:
    """Roll back if a transaction is still open. SQLite ends some failed transactions by
    itself (a full disk, an I/O error); a ROLLBACK then would raise and hide the real error."""
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            await db.execute("ROLLBACK")


async def _insert_batch(
    db: aiosqlite.Connection,
    samples: list[tuple[Any, ...]],
    events: list[tuple[Any, ...]],
    processes: Sequence[tuple[Any, ...]] = (),
    frames: Sequence[tuple[float, int, str, bytes]] = (),
) -> None:
    await db.execute("BEGIN")
    try:
        await db.executemany(
            "INSERT INTO samples (ts, pid, rss, vms, uss, cpu_percent, tier, resolution,"
            " rss_max, gc_pause_p99_ms, cache_hit_rate) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            samples,
        )
        await db.executemany(
            "INSERT INTO events (ts, kind, level, message, pid) VALUES (?,?,?,?,?)", events
        )
        await db.executemany(
            "INSERT OR IGNORE INTO processes (pid, started, command, first_seen) VALUES (?,?,?,?)",
            processes,
        )
        await db.executemany("INSERT INTO frames (ts, pid, tier, body) VALUES (?,?,?,?)", frames)
        await db.execute("COMMIT")
    except BaseException:
        await _rollback(db)
        raise


async def _pragmas(db: aiosqlite.Connection) -> None:
    # Per connection; journal_mode=WAL is set once by _prepare, after the file is checked.
    await db.execute("PRAGMA synchronous=NORMAL")
    await db.execute("PRAGMA busy_timeout=5000")


async def _prepare(db: aiosqlite.Connection, path: Path) -> None:
    """Read the version first (a read writes nothing), then set WAL and migrate."""
    try:
        version = await _schema_version(db)
    except sqlite3.DatabaseError as exc:
        raise HistoryFileError(
            f"{path} is corrupt or not a tui-perf history file ({exc}); it was left untouched"
        ) from exc
    if version > SCHEMA_VERSION:
        raise HistoryFileError(
            f"{path} was written by a newer tui-perf (schema {version}, this one reads up to "
            f"{SCHEMA_VERSION}); upgrade tui-perf or use another --history file"
        )
    try:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA busy_timeout=5000")
        for target in range(version, SCHEMA_VERSION):
            await db.execute("BEGIN")
            try:
                for statement in _statements(MIGRATIONS[target]):
                    await db.execute(statement)
                await db.execute("DELETE FROM schema_version")
                await db.execute("INSERT INTO schema_version (version) VALUES (?)", (target + 1,))
                await db.execute("COMMIT")
            except BaseException:
                await _rollback(db)
                raise
    except sqlite3.OperationalError as exc:
        raise HistoryFileError(f"cannot write history file {path}: {exc}") from exc


async def _schema_version(db: aiosqlite.Connection) -> int:
    cur = await db.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'"
    )
    if await cur.fetchone() is None:
        cur = await db.execute("SELECT COUNT(*) FROM sqlite_master")
        row = await cur.fetchone()
        if row and row[0]:
            raise sqlite3.DatabaseError("it has tables but no schema_version")
        await db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        return 0
    cur = await db.execute("SELECT version FROM schema_version")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


def _sql_time(t: float) -> float:
    """SQLite has no infinity: an open-ended range ends at the largest double instead."""
    return min(t, 1e308)


def _statements(script: str) -> list[str]:
    """Split a migration script; migrations hold no semicolons inside literals."""
    return [s.strip() for s in script.split(";") if s.strip()]
