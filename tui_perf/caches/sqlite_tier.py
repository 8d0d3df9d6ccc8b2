"""`SQLiteTier`: an L2 tier in a SQLite file that processes on one host share."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_perf.caches.l2 import Counters, Item, table_name
from tui_perf.caches.memory_tier import MISSING
from tui_perf.model.snapshot import TierStats

if TYPE_CHECKING:
    import aiosqlite


class SQLiteTier(Counters):
    """A table in a SQLite file: WAL, synchronous=NORMAL, mmap, a connection per thread.

    Reconnects after `fork()` (a connection must not cross processes); waits up to
    `busy_timeout_s` when another process holds the write lock.
    """

    level = "L2"
    kind = "sqlite"

    def __init__(
        self,
        path: str | Path,
        *,
        table: str = "cache",
        timer: Callable[[], float] = time.time,
        busy_timeout_s: float = 5.0,
        mmap_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.table = table_name(table)
        self._timer = timer
        self._busy_ms = int(busy_timeout_s * 1000)
        self._mmap = mmap_bytes
        self._local = threading.local()
        self._async: aiosqlite.Connection | None = None
        self._size_cache: tuple[float, int, int] | None = None
        with self._conn() as db:  # create the schema once, up front
            db.executescript(f"""
                CREATE TABLE IF NOT EXISTS {self.table} (
                    key TEXT PRIMARY KEY, value BLOB NOT NULL, expires REAL,
                    size INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS {self.table}_tags (
                    tag TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (tag, key)) WITHOUT ROWID;
            """)

    # -- connections -------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        db: sqlite3.Connection | None = getattr(local, "db", None)
        if db is None or local.pid != os.getpid():
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            db.execute(f"PRAGMA mmap_size={self._mmap}")
            local.db, local.pid = db, os.getpid()
        return db

    async def _aconn(self) -> aiosqlite.Connection:
        if self._async is None:
            import aiosqlite

            db = await aiosqlite.connect(self.path, isolation_level=None)
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            self._async = db
        return self._async

    # -- sync --------------------------------------------------------------------------

    def _read(self, row: tuple[bytes, float | None] | None, key: str) -> Any:
        if row is None:
            self.misses += 1
            return MISSING
        value, expires = row
        if expires is not None and expires <= self._timer():
            self.misses += 1
            self.expirations += 1
            return MISSING
        self.hits += 1
        return bytes(value)

    def get(self, key: str) -> Any:
        row = (
            self._conn()
            .execute(f"SELECT value, expires FROM {self.table} WHERE key = ?", (key,))
            .fetchone()
        )
        return self._read(row, key)

    def _rows(self, items: Iterable[Item]) -> tuple[list[Any], list[Any], list[Any]]:
        now = self._timer()
        entries: list[Any] = []
        keys: list[Any] = []
        tags: list[Any] = []
        for key, value, ttl, item_tags in items:
            entries.append((key, value, now + ttl if ttl is not None else None, len(value)))
            keys.append((key,))
            tags.extend((t, key) for t in item_tags)
        return entries, keys, tags

    def set_many(self, items: Iterable[Item]) -> None:
        entries, keys, tags = self._rows(items)
        if not entries:
            return
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(f"INSERT OR REPLACE INTO {self.table} VALUES (?,?,?,?)", entries)
            db.executemany(f"DELETE FROM {self.table}_tags WHERE key = ?", keys)
            db.executemany(f"INSERT OR IGNORE INTO {self.table}_tags VALUES (?,?)", tags)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.sets += len(entries)

    def set(
        self, key: str, value: bytes, ttl: float | None = None, tags: Sequence[str] = ()
    ) -> None:
        self.set_many([(key, value, ttl, tags)])

    def delete(self, key: str) -> bool:
        db = self._conn()
        cur = db.execute(f"DELETE FROM {self.table} WHERE key = ?", (key,))
        db.execute(f"DELETE FROM {self.table}_tags WHERE key = ?", (key,))
        return cur.rowcount > 0

    def delete_prefix(self, prefix: str) -> int:
        # A range on the primary key, not LIKE: no escaping, and it uses the index.
        db = self._conn()
        hi = prefix + "\U0010ffff"
        db.execute(f"DELETE FROM {self.table}_tags WHERE key >= ? AND key < ?", (prefix, hi))
        return db.execute(
            f"DELETE FROM {self.table} WHERE key >= ? AND key < ?", (prefix, hi)
        ).rowcount

    def delete_tag(self, tag: str) -> int:
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            n = db.execute(
                f"DELETE FROM {self.table} WHERE key IN "
                f"(SELECT key FROM {self.table}_tags WHERE tag = ?)",
                (tag,),
            ).rowcount
            db.execute(f"DELETE FROM {self.table}_tags WHERE tag = ?", (tag,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return n

    def clear(self) -> int:
        db = self._conn()
        db.execute(f"DELETE FROM {self.table}_tags")
        return db.execute(f"DELETE FROM {self.table}").rowcount

    def purge_expired(self) -> int:
        """Delete expired rows (reads skip them anyway); returns how many."""
        n = (
            self._conn()
            .execute(f"DELETE FROM {self.table} WHERE expires <= ?", (self._timer(),))
            .rowcount
        )
        self.expirations += n
        return n

    def stats(self) -> TierStats:
        # COUNT and SUM walk the table: refresh them at most every 10 s.
        now = time.monotonic()
        if self._size_cache is None or now - self._size_cache[0] >= 10:
            count, size = (
                self._conn()
                .execute(f"SELECT COUNT(*), COALESCE(SUM(size), 0) FROM {self.table}")
                .fetchone()
            )
            self._size_cache = (now, int(count), int(size))
        _, count, size = self._size_cache
        return TierStats(
            self.level,
            self.kind,
            hits=self.hits,
            misses=self.misses,
            sets=self.sets,
            expirations=self.expirations,
            size=count,
            bytes=size,
        )

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None and self._local.pid == os.getpid():
            db.close()
        self._local = threading.local()

    # -- async -------------------------------------------------------------------------

    async def aget(self, key: str) -> Any:
        db = await self._aconn()
        async with db.execute(
            f"SELECT value, expires FROM {self.table} WHERE key = ?", (key,)
        ) as cur:
            row = await cur.fetchone()
        return self._read(row, key)  # type: ignore[arg-type]

    async def aset_many(self, items: Iterable[Item]) -> None:
        entries, keys, tags = self._rows(items)
        if not entries:
            return
        db = await self._aconn()
        await db.execute("BEGIN IMMEDIATE")
        try:
            await db.executemany(f"INSERT OR REPLACE INTO {self.table} VALUES (?,?,?,?)", entries)
            await db.executemany(f"DELETE FROM {self.table}_tags WHERE key = ?", keys)
            await db.executemany(f"INSERT OR IGNORE INTO {self.table}_tags VALUES (?,?)", tags)
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        self.sets += len(entries)

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.close()
            self._async = None
