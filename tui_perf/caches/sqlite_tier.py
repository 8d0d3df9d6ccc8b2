"""`SQLiteTier`: an L2 tier in a SQLite file that processes on one host share.

The table keeps its own entry count and byte total (triggers on insert, update and delete,
so they are never a scan), and every write batch does a little upkeep: it purges up to
`purge_batch` expired rows and as many rows a bulk invalidation left stale (a sweep: see
`sqlite_generations`), then, when `max_entries` or `max_bytes` is exceeded, culls the
least recently stored entries until the table is back under both (as diskcache culls).

Async calls share one connection, opened once however many ask first, and async writes are
serialized (one writer per connection: SQLite cannot nest `BEGIN`), so any
number of concurrent `aset` calls succeed. The aiosqlite connection's thread is a daemon:
nothing here keeps the interpreter alive at exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_perf.caches.l2 import Counters, Item, table_name
from tui_perf.caches.memory_tier import MISSING
from tui_perf.caches.sqlite_generations import SQLiteGenerations
from tui_perf.model.paths import private_file
from tui_perf.model.snapshot import TierStats

if TYPE_CHECKING:
    import aiosqlite


class SQLiteTier(SQLiteGenerations, Counters):
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
        max_entries: int | None = None,
        max_bytes: int | None = None,
        purge_batch: int = 100,
    ) -> None:
        super().__init__()
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.purge_batch = purge_batch
        self.culled = 0
        self._alocks: dict[str, asyncio.Lock] = {}
        self._alock_loop: asyncio.AbstractEventLoop | None = None
        self.path = Path(path)
        self.table = table_name(table)
        self._timer = timer
        self._busy_ms = int(busy_timeout_s * 1000)
        self._mmap = mmap_bytes
        self._local = threading.local()
        self._async: aiosqlite.Connection | None = None
        tb = self.table
        self._upsert = (
            f"INSERT INTO {tb} (key, value, expires, size, stored) VALUES (?,?,?,?,?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
            "expires = excluded.expires, size = excluded.size, stored = excluded.stored"
        )
        self._ready = False
        with contextlib.suppress(sqlite3.Error, OSError):
            self._conn()  # a file that cannot be opened yet fails at first use, as a miss

    # -- connections -------------------------------------------------------------------

    def _create_schema(self, db: sqlite3.Connection) -> None:
        tb = self.table
        columns = [r[1] for r in db.execute(f"PRAGMA table_info({tb})")]
        if columns and "stored" not in columns:  # a table from an older layout: a cache
            db.executescript(f"DROP TABLE {tb}; DROP TABLE IF EXISTS {tb}_tags;")
        db.executescript(f"""
            CREATE TABLE IF NOT EXISTS {tb} (
                key TEXT PRIMARY KEY, value BLOB NOT NULL, expires REAL,
                size INTEGER NOT NULL, stored REAL NOT NULL) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS {tb}_expires ON {tb} (expires) WHERE expires IS NOT NULL;
            CREATE INDEX IF NOT EXISTS {tb}_stored ON {tb} (stored);
            CREATE TABLE IF NOT EXISTS {tb}_tags (
                tag TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (tag, key)) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS {tb}_tags_key ON {tb}_tags (key);
            CREATE TABLE IF NOT EXISTS {tb}_gen (
                scope TEXT NOT NULL, rule TEXT NOT NULL, gen INTEGER NOT NULL,
                PRIMARY KEY (scope, rule)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS {tb}_sweep (
                id INTEGER PRIMARY KEY, kind TEXT NOT NULL, arg TEXT NOT NULL,
                before REAL NOT NULL);
            CREATE TABLE IF NOT EXISTS {tb}_meta (
                id INTEGER PRIMARY KEY CHECK (id = 0), count INTEGER NOT NULL,
                bytes INTEGER NOT NULL);
            INSERT OR IGNORE INTO {tb}_meta
                SELECT 0, COUNT(*), COALESCE(SUM(size), 0) FROM {tb};
            CREATE TRIGGER IF NOT EXISTS {tb}_ins AFTER INSERT ON {tb} BEGIN
                UPDATE {tb}_meta SET count = count + 1, bytes = bytes + new.size; END;
            CREATE TRIGGER IF NOT EXISTS {tb}_upd AFTER UPDATE ON {tb} BEGIN
                UPDATE {tb}_meta SET bytes = bytes + new.size - old.size; END;
            CREATE TRIGGER IF NOT EXISTS {tb}_del AFTER DELETE ON {tb} BEGIN
                UPDATE {tb}_meta SET count = count - 1, bytes = bytes - old.size;
                DELETE FROM {tb}_tags WHERE key = old.key; END;
        """)

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        db: sqlite3.Connection | None = getattr(local, "db", None)
        if db is None or local.pid != os.getpid():
            if self.path.parent.is_dir():
                private_file(self.path)  # 0600: cache contents are the program's data
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            db.execute(f"PRAGMA mmap_size={self._mmap}")
            # Without this the WAL keeps its largest size for good: as large as the data.
            db.execute("PRAGMA journal_size_limit=1048576")
            if not self._ready:
                self._create_schema(db)
                self._ready = True
            local.db, local.pid = db, os.getpid()
        return db

    async def _aconn(self) -> aiosqlite.Connection:
        if self._async is not None:
            return self._async
        # One connection, whatever the number of callers: without the lock, 500 concurrent
        # first calls each opened a connection (and its thread) while the others awaited
        # theirs, and that crowd of writers and WAL openers outwaited busy_timeout under
        # load: a write lost to "database is locked".
        async with self._lock_for("_aopen"):
            return await self._aopen()

    async def _aopen(self) -> aiosqlite.Connection:
        if self._async is None:
            import aiosqlite

            if not self._ready:
                self._conn()  # the schema, made once on a sync connection
            pending = aiosqlite.connect(self.path, isolation_level=None)
            worker = getattr(pending, "_thread", None)
            if isinstance(worker, threading.Thread):
                worker.daemon = True  # an open cache never keeps the interpreter alive
            db = await pending
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
            expires = now + ttl if ttl is not None else None
            entries.append((key, value, expires, len(value), now))
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
            for sql, params in self._write_statements(entries, keys, tags):
                db.executemany(sql, params)
            self._upkeep(db)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self.sets += len(entries)

    def _write_statements(
        self, entries: list[Any], keys: list[Any], tags: list[Any]
    ) -> list[tuple[str, list[Any]]]:
        return [
            (self._upsert, entries),
            (f"DELETE FROM {self.table}_tags WHERE key = ?", keys),
            (f"INSERT OR IGNORE INTO {self.table}_tags VALUES (?,?)", tags),
        ]

    def _purge_sql(self) -> tuple[str, tuple[Any, ...]]:
        tb = self.table
        return (
            f"DELETE FROM {tb} WHERE key IN (SELECT key FROM {tb} "
            "WHERE expires IS NOT NULL AND expires <= ? LIMIT ?)",
            (self._timer(), self.purge_batch),
        )

    def _cull_sql(self, count: int, used: int) -> tuple[str, tuple[Any, ...]] | None:
        """The next cull, or None when under both limits: oldest stored first, in chunks.

        `used` is the bytes of the file's pages in use (free pages excluded): `max_bytes`
        bounds the file on disk, as diskcache's `size_limit` does, not just the values.
        """
        over_n = count - self.max_entries if self.max_entries is not None else 0
        over_b = used > self.max_bytes if self.max_bytes is not None else False
        if (over_n <= 0 and not over_b) or count <= 0:
            return None  # nothing over, or nothing left to cull (a limit below the schema)
        # Cull a little more than needed so a full table is not culled on every write.
        n = max(over_n + (self.max_entries or 0) // 20, max(count // 20, 1) if over_b else 1)
        tb = self.table
        return (
            f"DELETE FROM {tb} WHERE key IN (SELECT key FROM {tb} ORDER BY stored LIMIT ?)",
            (n,),
        )

    _USED = (
        "SELECT (SELECT count FROM {t}_meta), "
        "((SELECT page_count FROM pragma_page_count()) - "
        "(SELECT freelist_count FROM pragma_freelist_count())) * "
        "(SELECT page_size FROM pragma_page_size())"
    )

    def _upkeep(self, db: sqlite3.Connection) -> None:
        db.execute(*self._purge_sql())
        self._sweep(db)
        while True:
            count, used = db.execute(self._USED.format(t=self.table)).fetchone()
            cull = self._cull_sql(count, used)
            if cull is None:
                return
            n = db.execute(*cull).rowcount
            self.culled += n
            if n <= 0:
                return

    async def _aupkeep(self, db: aiosqlite.Connection) -> None:
        await db.execute(*self._purge_sql())
        await self._asweep(db)
        while True:
            async with db.execute(self._USED.format(t=self.table)) as cur:
                row = await cur.fetchone()
            assert row is not None
            cull = self._cull_sql(row[0], row[1])
            if cull is None:
                return
            cur2 = await db.execute(*cull)
            self.culled += cur2.rowcount
            if cur2.rowcount <= 0:
                return

    def set(
        self, key: str, value: bytes, ttl: float | None = None, tags: Sequence[str] = ()
    ) -> None:
        self.set_many([(key, value, ttl, tags)])

    def delete(self, key: str) -> bool:
        cur = self._conn().execute(f"DELETE FROM {self.table} WHERE key = ?", (key,))
        return cur.rowcount > 0  # the delete trigger drops its tags

    def delete_prefix(self, prefix: str) -> int:
        # A range on the primary key, not LIKE: no escaping, and it uses the index.
        db = self._conn()
        hi = prefix + "\U0010ffff"
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
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return n

    def clear(self) -> int:
        """Every entry of every cache in this table; a cache clears its own with a prefix."""
        return self._conn().execute(f"DELETE FROM {self.table}").rowcount

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
        count, size = self._conn().execute(f"SELECT count, bytes FROM {self.table}_meta").fetchone()
        return TierStats(
            self.level,
            self.kind,
            hits=self.hits,
            misses=self.misses,
            sets=self.sets,
            expirations=self.expirations,
            evictions=self.culled,
            size=int(count),
            maxsize=self.max_entries,
            bytes=int(size),
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
        async with self._writer():  # SQLite cannot nest BEGIN: one async writer at a time
            await db.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in self._write_statements(entries, keys, tags):
                    await db.executemany(sql, params)
                await self._aupkeep(db)
                await db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    with contextlib.suppress(Exception):
                        await db.execute("ROLLBACK")
                raise
        self.sets += len(entries)

    def _writer(self) -> asyncio.Lock:
        return self._lock_for("_awrite")

    def _lock_for(self, name: str) -> asyncio.Lock:
        """This event loop's lock of that name (an asyncio.Lock belongs to one loop)."""
        loop = asyncio.get_running_loop()
        if self._alock_loop is not loop:
            self._alocks, self._alock_loop = {}, loop
        return self._alocks.setdefault(name, asyncio.Lock())

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.close()
            self._async = None
