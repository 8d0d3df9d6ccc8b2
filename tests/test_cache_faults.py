"""An L2 tier is an optimisation, never a dependency: faults injected with the real thing.

redis-server killed and started again; a SQLite file locked by another process, made
read-only, filled (`PRAGMA max_page_count`), and its directory deleted. In every case the
user's function keeps returning correct values, the stats show the tier down with its errors,
and after recovery the tier is used again. The breaker's clock is injected: no test waits
for a backoff.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import is_root
from tests.helpers.redis_server import RedisServer
from tests.helpers.scripted import FakeClock
from tui_perf.caches.breaker import GuardedTier
from tui_perf.caches.decorator import cached
from tui_perf.caches.multilevel import MultiLevelCache
from tui_perf.caches.redis_tier import RedisTier
from tui_perf.caches.sqlite_tier import SQLiteTier
from tui_perf.engine.registry import Registry


def _guarded(tier: Any, clock: FakeClock) -> GuardedTier:
    return GuardedTier(tier, owner="faults", clock=clock, backoff=1.0, max_backoff=8.0)


def _square_with(l2: GuardedTier) -> tuple[Callable[[int], int], list[int]]:
    calls: list[int] = []

    @cached(l2=l2, registry=Registry())
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    return square, calls


def _l2(fn: Any) -> Any:
    return fn.cache.stats().tiers[1]


def test_redis_killed_and_restarted_mid_run(redis_server: RedisServer) -> None:
    clock = FakeClock()
    square, calls = _square_with(_guarded(RedisTier(redis_server.url, socket_timeout=0.5), clock))
    assert [square(i) for i in range(5)] == [0, 1, 4, 9, 16]
    redis_server.stop()
    square.cache.l1.clear()  # type: ignore[attr-defined]
    # Every L1 miss now meets a dead server: the function runs, nothing raises.
    assert [square(i) for i in range(5, 10)] == [25, 36, 49, 64, 81]
    stats = _l2(square)
    assert stats.state == "down" and stats.errors >= 1
    assert "ConnectionError" in stats.reason or "Timeout" in stats.reason
    errors_while_open = stats.errors
    assert [square(i) for i in range(10, 20)] == [i * i for i in range(10, 20)]
    assert _l2(square).errors == errors_while_open  # the open circuit stopped calling it
    redis_server.start()
    clock.advance(60)  # past the backoff: the next call probes, and the tier is back
    assert square(100) == 10_000
    assert _l2(square).state == "up"
    square.cache.l1.clear()  # type: ignore[attr-defined]
    before = len(calls)
    assert square(100) == 10_000  # served by Redis again: not recomputed
    assert len(calls) == before


def test_sqlite_locked_by_another_process(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    clock = FakeClock()
    square, _ = _square_with(_guarded(SQLiteTier(db, busy_timeout_s=0.05), clock))
    assert square(2) == 4
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import sqlite3, sys
                db = sqlite3.connect({str(db)!r}, isolation_level=None)
                db.execute("BEGIN EXCLUSIVE")
                print("locked", flush=True)
                sys.stdin.readline()
            """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert [square(i) for i in range(3, 8)] == [9, 16, 25, 36, 49]
        stats = _l2(square)
        assert stats.state == "down" and "locked" in stats.reason
    finally:
        holder.communicate("\n", timeout=10)
    clock.advance(60)
    assert square(8) == 64
    assert _l2(square).state == "up"
    with sqlite3.connect(db) as conn:  # the write reached the file once the lock was gone
        assert conn.execute("SELECT COUNT(*) FROM cache").fetchone()[0] >= 2


def test_sqlite_made_read_only(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    clock = FakeClock()
    tier = SQLiteTier(db)
    square, _ = _square_with(_guarded(tier, clock))
    assert square(2) == 4
    if is_root():
        # Permission bits do not bind root; SQLite's own read-only switch fails writes alike.
        tier._conn().execute("PRAGMA query_only = ON")
    else:
        db.chmod(0o444)
        tier.close()  # the next connection opens the read-only file
    assert [square(i) for i in range(3, 6)] == [9, 16, 25]
    assert _l2(square).state == "down"
    assert "readonly" in _l2(square).reason.replace("-", "").replace(" ", "")
    if is_root():
        tier._conn().execute("PRAGMA query_only = OFF")
    else:
        db.chmod(0o644)
        tier.close()
    clock.advance(60)
    assert square(6) == 36 and _l2(square).state == "up"


def test_sqlite_full(tmp_path: Path) -> None:
    clock = FakeClock()
    tier = SQLiteTier(tmp_path / "c.db")
    square, _ = _square_with(_guarded(tier, clock))
    assert square(1) == 1
    conn = tier._conn()  # the tier's own connection: max_page_count is per connection
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")
    big = MultiLevelCache("big", l2=_guarded(tier, clock), registry=Registry())
    blob = secrets.token_hex(100_000)  # does not compress: needs pages the file lacks
    big.set("blob", blob)  # refused by SQLite, and no raise
    assert big.get("blob") == blob  # L1 still has it
    assert big.stats().tiers[1].state == "down"
    assert "full" in big.stats().tiers[1].reason
    conn.execute("PRAGMA max_page_count = 1073741823")
    clock.advance(60)
    big.set("blob2", secrets.token_hex(100_000))
    assert big.stats().tiers[1].state == "up"


def test_sqlite_directory_deleted(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    clock = FakeClock()
    square, _ = _square_with(_guarded(SQLiteTier(folder / "c.db"), clock))
    assert square(3) == 9
    shutil.rmtree(folder)
    # A second cache on that path cannot open the file at all: still correct, still no raise.
    other, _ = _square_with(_guarded(SQLiteTier(folder / "c.db"), clock))
    assert [other(i) for i in range(4)] == [0, 1, 4, 9]
    assert _l2(other).state == "down" and _l2(other).errors >= 1
    folder.mkdir()
    clock.advance(60)
    assert other(5) == 25 and _l2(other).state == "up"
    assert (folder / "c.db").exists()


def test_async_callers_survive_an_outage_too(redis_server: RedisServer) -> None:
    clock = FakeClock()
    calls: list[int] = []

    @cached(
        l2=_guarded(RedisTier(redis_server.url, socket_timeout=0.5), clock), registry=Registry()
    )
    async def double(x: int) -> int:
        calls.append(x)
        return 2 * x

    async def main() -> None:
        assert await double(1) == 2
        redis_server.stop()
        double.cache.l1.clear()  # type: ignore[attr-defined]
        assert [await double(i) for i in range(5)] == [0, 2, 4, 6, 8]
        assert double.cache.stats().tiers[1].state == "down"  # type: ignore[attr-defined]
        await double.cache.aclose()  # type: ignore[attr-defined]

    asyncio.run(main())


def test_a_delete_during_an_outage_does_not_come_back_with_the_tier(
    redis_server: RedisServer,
) -> None:
    clock = FakeClock()
    cache = MultiLevelCache(
        "tomb",
        l2=_guarded(RedisTier(redis_server.url, socket_timeout=0.5), clock),
        registry=Registry(),
    )
    cache.set("k", "old")
    redis_server.stop()
    cache.delete("k")  # L2 is unreachable: remembered as a tombstone
    redis_server.start()  # the server comes back empty, as a restarted Redis does...
    RedisTier(redis_server.url).set(cache.key_str("k"), b"\x00" + b'J"old"')  # ...or not
    clock.advance(60)
    cache.l1.clear()
    assert cache.get("k") is None  # the replayed delete won


def test_an_async_batch_that_meets_a_transient_error_is_kept_and_written_later(
    tmp_path: Path,
) -> None:
    """Reproduced: the async path dropped a whole batch on one error (the sync one kept it)."""
    clock = FakeClock()
    tier = SQLiteTier(tmp_path / "c.db")
    cache = MultiLevelCache(
        "wb",
        l2=_guarded(tier, clock),
        write_behind=True,
        batch_size=10,
        flush_interval=3600,
        registry=Registry(),
    )

    async def main() -> None:
        conn = tier._conn()
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        conn.execute(f"PRAGMA max_page_count = {pages}")  # full, for the sync connection...
        db = await tier._aconn()
        await db.execute(f"PRAGMA max_page_count = {pages}")  # ...and for the async one
        for i in range(10):  # the tenth fills the batch: an async flush that fails
            await cache.aset(f"k{i}", secrets.token_hex(2000))
        assert cache.stats().tiers[1].state == "down"
        assert len(cache.queue.pending) == 10  # type: ignore[union-attr]
        await db.execute("PRAGMA max_page_count = 1073741823")
        conn.execute("PRAGMA max_page_count = 1073741823")
        clock.advance(60)
        assert await cache.queue.aflush() == 10  # type: ignore[union-attr]
        await cache.aclose()

    asyncio.run(main())
    with sqlite3.connect(tmp_path / "c.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM cache").fetchone() == (10,)
