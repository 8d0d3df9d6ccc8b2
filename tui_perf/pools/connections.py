"""`ConnectionPool`: aiosqlite connections with health checks, recycling and reconnects.

- `min_size` connections opened up front, at most `max_size`; `acquire` waits up to
  `acquire_timeout` for one to come free.
- Before hand-out: a connection older than `max_age` is recycled, and a `SELECT 1` ping
  finds one that died (closed under us, file gone); a dead one is counted as lost and
  replaced.
- On return: an open transaction is rolled back, so the next user starts clean. The slot
  is always given back: a connection closed while checked out, or a rollback that fails or
  is cancelled, discards the connection (never reused) and frees its slot.
- A connection held longer than `leak_after` seconds makes the pool unhealthy (a suspected
  leak), and so does a pool whose every connection is in use while requests wait.
- When the file cannot be opened (its directory missing, a lock, a full disk) connecting is
  retried with exponential backoff until the acquire timeout. A file that is not a database
  fails at once: waiting will not fix it.

Stats follow psycopg_pool's `get_stats()`: requests, waiting, wait ms, errors, connections
made and lost.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from tui_perf.engine.registry import REGISTRY, Registry
from tui_perf.model.errors import ConfigError
from tui_perf.model.quantiles import nearest_rank
from tui_perf.model.snapshot import PoolStats
from tui_perf.pools.objects import PoolTimeout

if TYPE_CHECKING:
    import aiosqlite

log = logging.getLogger(__name__)
_names = itertools.count(1)


class _Conn:
    __slots__ = ("born", "db")

    def __init__(self, db: aiosqlite.Connection, born: float) -> None:
        self.db = db
        self.born = born


class ConnectionPool:
    """A pool of aiosqlite connections to one SQLite file."""

    def __init__(
        self,
        path: str | Path,
        *,
        min_size: int = 1,
        max_size: int = 4,
        acquire_timeout: float = 5.0,
        max_age: float = 3600.0,
        ping: bool = True,
        setup: Callable[[aiosqlite.Connection], Awaitable[None]] | None = None,
        name: str | None = None,
        backoff: tuple[float, float] = (0.05, 2.0),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        leak_after: float | None = 300.0,
        registry: Registry | None = None,
    ) -> None:
        if not 0 <= min_size <= max_size or max_size < 1:
            raise ConfigError(
                f"need 0 <= min_size <= max_size and max_size >= 1, got {min_size} and {max_size}"
            )
        self.path = Path(path)
        self.name = name or f"sqlite-{next(_names)}"
        self.kind = "aiosqlite"
        self.min_size, self.max_size = min_size, max_size
        self.acquire_timeout = acquire_timeout
        self.max_age = max_age
        self.ping = ping
        self._setup = setup
        self._backoff = backoff
        self._sleep = sleep
        self._clock = clock
        self._idle: deque[_Conn] = deque()
        self._size = 0  # open connections, idle or in use, plus slots being opened
        self._in_use = 0
        self._cond: asyncio.Condition | None = None
        self._closed = False
        self.requests = self.waits = self.timeouts = self.errors = 0
        self.waiting = 0  # requests waiting right now
        self.made = self.lost = self.recycled = self.reused = 0
        self._born: dict[int, float] = {}  # id(connection) -> when it was opened
        self._leased_at: dict[int, float] = {}  # id(connection) -> when it was handed out
        self.leak_after = leak_after
        self.last_error = ""
        self._wait_ms: deque[float] = deque(maxlen=1000)
        self._tasks: set[asyncio.Task[None]] = set()  # wake-ups and closes under way
        (registry if registry is not None else REGISTRY).register_pool(self)

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    async def open(self) -> ConnectionPool:
        """Open `min_size` connections now (so a bad path fails here, not at first use)."""
        conns = [
            await self._reserve_and_connect(time.monotonic() + self.acquire_timeout)
            for _ in range(self.min_size)
        ]
        async with self._condition():
            self._idle.extend(conns)
        return self

    async def _connect(self) -> _Conn:
        import aiosqlite

        connecting = aiosqlite.connect(self.path, isolation_level=None)
        try:
            db = await connecting
        except BaseException:
            # aiosqlite stops its thread after a failed connect, and that thread then calls
            # back into this loop: wait for it here, or it finds the loop closed (a program
            # that gives up and exits) and dies with "Event loop is closed".
            thread = getattr(connecting, "_thread", None)
            if thread is not None and thread.is_alive():
                await asyncio.to_thread(thread.join, 2.0)
            raise
        try:
            if self._setup is not None:
                await self._setup(db)
        except BaseException:
            await db.close()
            raise
        self.made += 1
        return _Conn(db, self._clock())

    async def _reserve_and_connect(self, deadline: float) -> _Conn:
        async with self._condition():
            self._size += 1
        try:
            return await self._connect_with_backoff(deadline)
        except BaseException:
            async with self._condition():
                self._size -= 1
                self._condition().notify()
            raise

    async def _connect_with_backoff(self, deadline: float) -> _Conn:
        delay, cap = self._backoff
        while True:
            try:
                return await self._connect()
            except (sqlite3.DatabaseError, OSError) as exc:
                self.errors += 1
                if isinstance(exc, sqlite3.DatabaseError) and not isinstance(
                    exc, sqlite3.OperationalError
                ):
                    # Not a database, or a malformed one: waiting will not fix that.
                    self.last_error = f"{self.path}: {exc}"
                    raise
                self.last_error = f"cannot open {self.path}: {exc}"
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PoolTimeout(
                        f"pool {self.name}: {self.last_error} "
                        f"(gave up after {self.acquire_timeout:g} s)"
                    ) from exc
                log.info("pool %s: %s; retrying in %.2f s", self.name, self.last_error, delay)
                await self._sleep(min(delay, remaining))
                delay = min(delay * 2, cap)

    async def _healthy(self, conn: _Conn) -> bool:
        if self._clock() - conn.born >= self.max_age:
            self.recycled += 1
            await _close_quietly(conn.db)
            return False
        if not self.ping:
            return True
        try:
            await conn.db.execute("SELECT 1")
            return True
        except Exception as exc:  # closed under us, I/O error, thread gone
            self.lost += 1
            self.last_error = f"connection lost: {exc!r}"
            await _close_quietly(conn.db)
            return False

    async def _get(self) -> aiosqlite.Connection:
        if self._closed:
            raise ConfigError(f"pool {self.name} is closed")
        self.requests += 1
        cond = self._condition()
        deadline = time.monotonic() + self.acquire_timeout
        waited_from: float | None = None
        conn: _Conn | None = None
        async with cond:
            while not self._idle and self._size >= self.max_size:
                if waited_from is None:
                    waited_from = time.monotonic()
                    self.waits += 1  # requests that had to wait, counted once each
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.timeouts += 1
                    self._wait_ms.append((time.monotonic() - waited_from) * 1000)
                    raise PoolTimeout(
                        f"pool {self.name}: no connection free within "
                        f"{self.acquire_timeout:g} s ({self._in_use} in use)"
                    )
                self.waiting += 1
                try:
                    await asyncio.wait_for(cond.wait(), remaining)
                except TimeoutError:
                    pass
                finally:
                    self.waiting -= 1
            if self._idle:
                conn = self._idle.pop()
            else:
                self._size += 1  # a slot for a new connection, opened outside the lock
            self._in_use += 1
        try:
            if conn is not None:
                if await self._healthy(conn):
                    self.reused += 1
                else:
                    conn = None  # keep the slot, open a fresh connection in it
            if conn is None:
                conn = await self._connect_with_backoff(deadline)
        except BaseException:
            async with cond:
                self._size -= 1
                self._in_use -= 1
                cond.notify()
            raise
        if waited_from is not None:
            self._wait_ms.append((time.monotonic() - waited_from) * 1000)
        self._born[id(conn.db)] = conn.born
        self._leased_at[id(conn.db)] = self._clock()
        return conn.db

    async def _put(self, db: aiosqlite.Connection) -> None:
        """Give the slot back, whatever state the connection or the task is in.

        A connection that cannot be rolled back (closed while checked out, its thread gone,
        the rollback itself cancelled) is discarded, never reused. The slot is given back
        with no `await` in between, so a cancellation cannot leave it taken.
        """
        born = self._born.pop(id(db), self._clock())
        keep = not self._closed
        self._leased_at.pop(id(db), None)
        try:
            if keep and db.in_transaction:
                await db.rollback()
        except Exception:  # closed under us ("no active connection"), I/O error, thread gone
            keep = False
        except BaseException:  # cancelled (once or twice) mid-rollback: state unknown
            self._release(db, None)  # first, and synchronously: the slot is free now
            self._close_soon(db)
            raise
        if not keep:
            self._release(db, None)
            await asyncio.shield(_close_quietly(db))
            return
        self._release(db, _Conn(db, born))

    def _release(self, db: aiosqlite.Connection, conn: _Conn | None) -> None:
        """Bookkeeping only (no await): `conn` goes back to idle, or None frees the slot."""
        self._in_use -= 1
        if conn is not None:
            self._idle.append(conn)
        else:
            self._size -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        """Notify a waiter. `Condition.notify` needs its lock, so it runs as a tiny task."""
        cond = self._condition()

        async def notify() -> None:
            async with cond:
                cond.notify()

        task = asyncio.get_running_loop().create_task(notify())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _close_soon(self, db: aiosqlite.Connection) -> None:
        task = asyncio.get_running_loop().create_task(_close_quietly(db))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[aiosqlite.Connection]:
        """`async with pool.connection() as db:` — returned (and rolled back) on exit."""
        db = await self._get()
        try:
            yield db
        finally:
            await self._put(db)

    async def close(self) -> None:
        """Close idle connections now; in-use ones close as they come back."""
        self._closed = True
        cond = self._condition()
        async with cond:
            idle = list(self._idle)
            self._idle.clear()
            self._size -= len(idle)
            cond.notify_all()
        for conn in idle:
            await _close_quietly(conn.db)
        if self._tasks:  # discarded connections still closing: finish before the loop ends
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def drain(self) -> int:
        """The memory guard's rung. Connections close on their own thread: not from here."""
        return 0

    def stats_key(self) -> None:
        """None: read at every tick (its figures move on the event loop's thread)."""
        return None

    def stats(self) -> PoolStats:
        healthy, reason = True, ""
        overdue = 0
        if self.leak_after is not None:
            cutoff = self._clock() - self.leak_after
            overdue = sum(1 for since in self._leased_at.values() if since < cutoff)
        if self._closed:
            healthy, reason = False, "closed"
        elif overdue:
            healthy = False
            reason = f"{overdue} held over {self.leak_after:g} s (suspected leaks)"
        elif self._in_use >= self.max_size and self.waiting:
            healthy = False
            reason = f"exhausted: {self._in_use} in use, {self.waiting} waiting"
        elif self.timeouts:
            healthy, reason = False, f"{self.timeouts} acquire timeouts"
        elif self.errors and self._size == 0:
            healthy, reason = False, self.last_error
        return PoolStats(
            name=self.name,
            kind=self.kind,
            in_use=self._in_use,
            idle=len(self._idle),
            created=self.made,
            reused=self.reused,
            requests=self.requests,
            waits=self.waits,
            wait_p95_ms=nearest_rank(sorted(self._wait_ms), 95),
            timeouts=self.timeouts,
            errors=self.errors,
            lost=self.lost,
            max_size=self.max_size,
            overdue=overdue,
            healthy=healthy,
            reason=reason,
        )


async def _close_quietly(db: aiosqlite.Connection) -> None:
    with suppress(Exception):
        await db.close()
