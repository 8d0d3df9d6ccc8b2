"""The history file's shape: the SQLite header check, the ordered migrations, and opening a
connection to it (pragmas, WAL, migrating an older schema, refusing a newer one).

Nothing here writes a row of history; `HistoryStore.open` calls `check_history_file` and
`prepare`, and every transaction in the store ends through `rollback` when it fails.
"""

from __future__ import annotations

import contextlib
import sqlite3
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from tui_perf.model.errors import HistoryFileError

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


def refuse_non_regular(path: Path) -> None:
    """Refuse a FIFO, device or socket before opening it: opening a FIFO waits for a writer,
    a device may never end, so `replay`/`history` would hang instead of saying why."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # missing or unreadable: the caller's own check says which
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise HistoryFileError(f"{path} is not a regular file (a FIFO, device or socket)")


def check_history_file(path: Path) -> None:
    """Refuse, without writing, a file that cannot be read or is not SQLite."""
    if not path.exists():
        parent = path.parent
        if parent.exists() and not parent.is_dir():
            raise HistoryFileError(f"{parent} is not a directory")
        return
    if path.is_dir():
        raise HistoryFileError(f"{path} is a directory, not a history file")
    refuse_non_regular(path)
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


async def rollback(db: aiosqlite.Connection) -> None:
    """Roll back if a transaction is still open. SQLite ends some failed transactions by
    itself (a full disk, an I/O error); a ROLLBACK then would raise and hide the real error."""
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            await db.execute("ROLLBACK")


async def pragmas(db: aiosqlite.Connection) -> None:
    # Per connection; journal_mode=WAL is set once by prepare, after the file is checked.
    await db.execute("PRAGMA synchronous=NORMAL")
    await db.execute("PRAGMA busy_timeout=5000")


async def prepare(db: aiosqlite.Connection, path: Path) -> None:
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
                await rollback(db)
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


def _statements(script: str) -> list[str]:
    """Split a migration script; migrations hold no semicolons inside literals."""
    return [s.strip() for s in script.split(";") if s.strip()]
