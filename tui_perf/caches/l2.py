"""L2 tiers: SQLite (a file shared by processes) and Redis (a server shared by hosts).

Both store bytes (the codec's output) under string keys, with an optional expiry in wall
time (shared stores outlive a process, so monotonic clocks do not apply) and tags.
Sync callers use the blocking client, async callers the async one; both see the same data.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tui_perf.caches.memory_tier import MISSING
from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import TierStats

if TYPE_CHECKING:
    import aiosqlite

#: (key, encoded value, ttl seconds or None, tags)
Item = tuple[str, bytes, float | None, Sequence[str]]


class L2Tier(Protocol):
    level: str
    kind: str

    def get(self, key: str) -> Any: ...
    def set_many(self, items: Iterable[Item]) -> None: ...
    def delete(self, key: str) -> bool: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def delete_tag(self, tag: str) -> int: ...
    def clear(self) -> int: ...
    def stats(self) -> TierStats: ...
    def close(self) -> None: ...
    async def aget(self, key: str) -> Any: ...
    async def aset_many(self, items: Iterable[Item]) -> None: ...
    async def aclose(self) -> None: ...


class _Counters:
    def __init__(self) -> None:
        self.hits = self.misses = self.sets = self.expirations = 0


def _table(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_]{1,60}", name):
        raise ConfigError(f"cache table name {name!r}: use letters, digits and _ only")
    return name


class SQLiteTier(_Counters):
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
        self.table = _table(table)
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


class RedisTier(_Counters):
    """Keys `<prefix><key>` on a Redis server; tags as Redis sets. Needs the `redis` extra."""

    level = "L2"
    kind = "redis"

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "tui-perf:",
        socket_timeout: float = 2.0,
    ) -> None:
        super().__init__()
        try:
            import redis
        except ImportError as exc:
            raise ConfigError(
                "RedisTier needs the redis package: pip install 'tui-perf[redis]'"
            ) from exc
        self.url = url
        self.prefix = prefix
        self._timeout = socket_timeout
        self._client = redis.Redis.from_url(url, socket_timeout=socket_timeout)
        self._aclient: Any = None

    def _k(self, key: str) -> str:
        return self.prefix + key

    def _tag(self, tag: str) -> str:
        return f"{self.prefix}\x00tag:{tag}"

    def _read(self, value: Any) -> Any:
        if value is None:
            self.misses += 1
            return MISSING
        self.hits += 1
        return value

    def get(self, key: str) -> Any:
        return self._read(self._client.get(self._k(key)))

    def set_many(self, items: Iterable[Item]) -> None:
        pipe = self._client.pipeline(transaction=False)
        n = self._queue_sets(pipe, items)
        pipe.execute()
        self.sets += n

    def _queue_sets(self, pipe: Any, items: Iterable[Item]) -> int:
        """Queue each item's SET (with its expiry) and tag memberships; sync and async alike."""
        n = 0
        for key, value, ttl, tags in items:
            pipe.set(self._k(key), value, px=int(ttl * 1000) if ttl is not None else None)
            for tag in tags:
                pipe.sadd(self._tag(tag), key)
            n += 1
        return n

    def set(
        self, key: str, value: bytes, ttl: float | None = None, tags: Sequence[str] = ()
    ) -> None:
        self.set_many([(key, value, ttl, tags)])

    def delete(self, key: str) -> bool:
        return bool(self._client.delete(self._k(key)))

    def delete_prefix(self, prefix: str) -> int:
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self._k(prefix)) + "*"
        n = 0
        batch: list[bytes] = []
        for name in self._client.scan_iter(match=pattern, count=500):
            batch.append(name)
            if len(batch) >= 500:
                n += self._client.delete(*batch)
                batch = []
        if batch:
            n += self._client.delete(*batch)
        return n

    def delete_tag(self, tag: str) -> int:
        keys = [
            m.decode() if isinstance(m, bytes) else str(m)
            for m in self._client.smembers(self._tag(tag))
        ]
        n = self._client.delete(*[self._k(k) for k in keys]) if keys else 0
        self._client.delete(self._tag(tag))
        return int(n)

    def clear(self) -> int:
        return self.delete_prefix("")

    def stats(self) -> TierStats:
        return TierStats(
            self.level,
            self.kind,
            hits=self.hits,
            misses=self.misses,
            sets=self.sets,
            expirations=self.expirations,
        )

    def close(self) -> None:
        self._client.close()

    async def _aconn(self) -> Any:
        if self._aclient is None:
            import redis.asyncio

            self._aclient = redis.asyncio.Redis.from_url(self.url, socket_timeout=self._timeout)
        return self._aclient

    async def aget(self, key: str) -> Any:
        client = await self._aconn()
        return self._read(await client.get(self._k(key)))

    async def aset_many(self, items: Iterable[Item]) -> None:
        client = await self._aconn()
        pipe = client.pipeline(transaction=False)
        n = self._queue_sets(pipe, items)
        await pipe.execute()
        self.sets += n

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None
