"""`HistoryStore`: snapshots, events and benchmark runs kept in SQLite through aiosqlite.

This module is the store itself: opening, batching policy (when to flush), closing, and the
public API every caller imports from here. The parts live beside it: `store.schema` (the
header check, migrations, pragmas), `store.batch` (rows queued and written), `store.queries`
(the readers and their row types), `store.retention` (folding and expiring old rows).

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
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from tui_perf.engine.sampler import Clock
from tui_perf.model.errors import HistoryFileError
from tui_perf.model.paths import default_history_path, private_dir, private_file
from tui_perf.model.snapshot import Event, Snapshot
from tui_perf.pools.connections import ConnectionPool
from tui_perf.store import queries
from tui_perf.store.batch import Batch, insert_batch, insert_bench_run
from tui_perf.store.frames import FrameKeeper, FramePolicy
from tui_perf.store.queries import BenchRunRow, MemoryPoint, ProcessRow
from tui_perf.store.retention import Retention, apply_retention
from tui_perf.store.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    check_history_file,
    pragmas,
    prepare,
)

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "BenchRunRow",
    "HistoryStore",
    "MemoryPoint",
    "ProcessRow",
    "Retention",
    "check_history_file",
]


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
        self._batch = Batch(FrameKeeper(frames))
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
            setup=pragmas,
            name=f"history {path.name}",
        )
        try:
            async with pool.connection() as db:
                await prepare(db, path)
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
        return self._batch.pending

    async def add_snapshot(self, snap: Snapshot) -> None:
        """Queue a snapshot's memory figures and events, and the whole snapshot when the frame
        policy keeps it; flushes when a batch is full."""
        self._batch.add_snapshot(snap)
        await self._maybe_flush()

    async def add_event(self, event: Event, pid: int | None = None) -> None:
        self._batch.add_event(event, pid)
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
            taken = self._batch.take()
            self._last_flush = self._clock()
            if not taken.samples and not taken.events and not taken.frames:
                return 0
            try:
                async with self._pool.connection() as db:
                    await insert_batch(db, taken)
            except BaseException:
                # Keep the rows for the next attempt rather than losing them.
                self._batch.put_back(taken)
                raise
            written = taken.pending
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
            await insert_bench_run(
                db,
                run_id,
                name,
                group,
                loops,
                values,
                median_s,
                stdev_s,
                metadata,
                ts,
                sizes,
                noise,
                refs,
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
        async with self._lock, self._pool.connection() as db:
            return await apply_retention(db, self.retention, now)

    # -- queries -----------------------------------------------------------------------

    async def memory_series(
        self,
        start: float = 0.0,
        end: float = float("inf"),
        pid: int | None = None,
        pids: Sequence[int] | None = None,
    ) -> list[MemoryPoint]:
        await self.flush()
        if pid is not None:
            pids = [pid]
        async with self._pool.connection() as db:
            return await queries.memory_series(db, start, end, pids)

    async def events(
        self, start: float = 0.0, end: float = float("inf"), pids: Sequence[int] | None = None
    ) -> list[Event]:
        """Events in the window; with `pids`, only those of these processes."""
        await self.flush()
        async with self._pool.connection() as db:
            return await queries.events(db, start, end, pids)

    async def processes(self) -> list[ProcessRow]:
        """Every process the history has rows of: pid, start time, command line."""
        await self.flush()
        async with self._pool.connection() as db:
            return await queries.processes(db)

    async def bench_runs(
        self, start: float = 0.0, end: float = float("inf"), name: str | None = None
    ) -> list[BenchRunRow]:
        async with self._pool.connection() as db:
            return await queries.bench_runs(db, start, end, name)
