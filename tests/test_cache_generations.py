"""Invalidation by generation (#29): tags, prefixes and clear() as bumps stored in L2.

The real things: SQLite files locked by another process (`BEGIN EXCLUSIVE` in a child),
redis-server killed and started again, a second process on the same L2. The breaker's clock
is injected, so recovery is a step of the test, not a wait.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.helpers.redis_server import RedisServer
from tests.helpers.scripted import FakeClock
from tests.helpers.sqlite_lock import locked
from tui_perf.caches.breaker import GuardedTier
from tui_perf.caches.generations import InvalidationResult
from tui_perf.caches.multilevel import MultiLevelCache, pack_entry
from tui_perf.caches.redis_tier import RedisTier
from tui_perf.caches.sqlite_tier import SQLiteTier
from tui_perf.engine.registry import Registry

ROOT = Path(__file__).resolve().parent.parent


def sqlite_cache(db: Path, clock: FakeClock, name: str = "c") -> MultiLevelCache:
    # A short busy timeout: the outage tests hold the file locked on purpose.
    tier = GuardedTier(SQLiteTier(db, busy_timeout_s=0.2), owner=name, clock=clock, backoff=1.0)
    return MultiLevelCache(name, l2=tier, registry=Registry())


def second_process(l2: str, keys: list[str]) -> dict[str, Any]:
    """What a fresh process on the same L2 reads for `keys`."""
    code = textwrap.dedent(f"""
        import json
        from tui_perf import MultiLevelCache, RedisTier, SQLiteTier
        from tui_perf.engine.registry import Registry
        l2 = {l2}
        cache = MultiLevelCache("c", l2=l2, registry=Registry())
        print(json.dumps({{k: cache.get(k) for k in {keys!r}}}))
    """)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    return result


INVALIDATIONS: dict[str, Callable[[MultiLevelCache], InvalidationResult]] = {
    "tag": lambda c: c.invalidate_tag("acct"),
    "prefix": lambda c: c.invalidate_prefix("acct:"),
    "clear": lambda c: c.clear(),
}


@pytest.mark.parametrize("how", list(INVALIDATIONS))
def test_sqlite_bulk_invalidation_during_an_outage_holds_here_and_in_another_process(
    tmp_path: Path, how: str
) -> None:
    db = tmp_path / "c.db"
    clock = FakeClock()
    cache = sqlite_cache(db, clock)
    cache.set("acct:1", "balance 100", tags=("acct",))
    cache.set("acct:2", "balance 200", tags=("acct",))
    with locked(db):
        result = INVALIDATIONS[how](cache)
        assert result == 2 and result.reached_l2 is False  # the truth: not stored in L2
        # WAL lets the file be read while it is locked: L2 still holds the row, and reads
        # it, but nothing from L2 is trusted while our bump waits.
        assert cache.get("acct:1") is None
    assert cache.generations is not None and cache.generations.pending
    clock.advance(1.0)  # the breaker's backoff has passed: the next call probes L2
    assert cache.get("acct:1") is None  # recovery: the bump lands before the read is judged
    assert not cache.generations.pending
    assert second_process(f"SQLiteTier({str(db)!r})", ["acct:1", "acct:2"]) == {
        "acct:1": None,
        "acct:2": None,
    }
    cache.set("acct:1", "balance 50", tags=("acct",))  # a write after the invalidation
    cache.clear_local()
    assert cache.get("acct:1") == "balance 50"
    assert second_process(f"SQLiteTier({str(db)!r})", ["acct:1"]) == {"acct:1": "balance 50"}
    cache.close()


def test_a_pending_bump_is_stored_after_recovery_with_no_further_call_here(
    tmp_path: Path,
) -> None:
    """The invalidating process may go idle: its retrier stores the bump once L2 is back,
    and then a second process no longer sees the old value."""
    db = tmp_path / "c.db"
    cache = MultiLevelCache("c", l2=SQLiteTier(db, busy_timeout_s=0.2), registry=Registry())
    cache.set("acct:1", "balance 100", tags=("acct",))
    with locked(db):
        assert cache.invalidate_tag("acct").reached_l2 is False
    assert cache.generations is not None
    deadline = time.monotonic() + 10  # the breaker's first backoff is 0.5 s
    while cache.generations.pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not cache.generations.pending
    assert second_process(f"SQLiteTier({str(db)!r})", ["acct:1"]) == {"acct:1": None}
    cache.close()


def test_invalidating_a_tag_of_10000_rows_touches_none_of_them(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    tier = SQLiteTier(db)
    cache = MultiLevelCache("c", l2=tier, registry=Registry(), write_behind=True, batch_size=1000)
    for i in range(10_000):
        cache.set(f"k{i}", i, tags=("big",))
    cache.flush()
    cache.set("other", "kept", tags=("small",))
    cache.flush()
    cache.set("one", 1, tags=("single",))
    cache.flush()

    def statements(tag: str) -> list[str]:
        seen: list[str] = []
        tier._conn().set_trace_callback(seen.append)
        assert cache.invalidate_tag(tag).reached_l2 is True
        tier._conn().set_trace_callback(None)
        return seen

    small, big = statements("single"), statements("big")
    # One transaction on the generation record (and a sweep queued for later writes): as
    # many statements for 10,000 rows as for one, and none reads or writes an entry.
    assert len(big) == len(small)
    assert not any(re.search(r"\bcache\b|cache_tags", s) for s in big), big
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM cache").fetchone()[0] == 10_002
    other = MultiLevelCache("c", l2=SQLiteTier(db), registry=Registry())
    assert [other.get(f"k{i}") for i in (0, 4_999, 9_999)] == [None, None, None]
    assert other.get("other") == "kept"
    l2 = other.stats().tiers[1]
    assert (l2.hits, l2.misses) == (1, 3)  # the stale rows were found, and not served
    # The stale rows met by a read are garbage, deleted there; the rest stay until then.
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM cache").fetchone()[0] == 10_002 - 3
    cache.close()
    other.close()


def test_later_writes_sweep_the_stale_rows_a_little_at_a_time(tmp_path: Path) -> None:
    """The rows a bump left are deleted by the upkeep of later write batches, at most
    `purge_batch` a batch; rows written after the bump, tag and all, are kept."""
    db = tmp_path / "c.db"
    tier = SQLiteTier(db, purge_batch=1000)
    cache = MultiLevelCache("c", l2=tier, registry=Registry(), write_behind=True, batch_size=500)
    for i in range(5_000):
        cache.set(f"k{i}", i, tags=("big",))
    for i in range(300):
        cache.set(f"p:{i}", i)
    cache.flush()

    def rows() -> int:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM cache").fetchone()[0])

    assert cache.invalidate_tag("big").reached_l2 and cache.invalidate_prefix("p:").reached_l2
    assert rows() == 5_300  # the bumps touched no row
    cache.set("k0", "after", tags=("big",))  # stored after the bump: kept
    cache.flush()
    assert rows() == 5_300 - 1_000  # one write batch, one step of the oldest sweep
    for i in range(7):
        cache.set(f"w{i}", i)
        cache.flush()
    assert rows() == 1 + 7 and tier.swept == 5_300 - 1
    cache.clear_local()
    assert cache.get("k0") == "after"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM cache_sweep").fetchone()[0] == 0
    cache.close()


def test_a_prefix_bump_does_not_reach_other_keys_and_clear_folds_the_rules(
    tmp_path: Path,
) -> None:
    db = tmp_path / "c.db"
    cache = MultiLevelCache("c", l2=SQLiteTier(db), registry=Registry())
    other = MultiLevelCache("c", l2=SQLiteTier(db), registry=Registry())
    for key in ("user:1", "user:10", "users", "order:1", 7):
        cache.set(key, str(key), tags=("t",))
    assert cache.invalidate_prefix("user:") == 2 and cache.invalidate_tag("none") == 0
    assert [other.get(k) for k in ("user:1", "user:10", "users", "order:1", 7)] == [
        None,
        None,
        "users",
        "order:1",
        "7",
    ]
    cache.clear()
    with sqlite3.connect(db) as conn:  # the older tag and prefix rules folded into the clear
        rules = sorted(r[0] for r in conn.execute("SELECT rule FROM cache_gen"))
    assert rules == ["c", "e", "i"]
    cache.set("user:1", "back")
    other.clear_local()
    assert other.get("user:1") == "back" and other.get("users") is None


def test_another_cache_on_the_same_file_is_not_invalidated(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    a = MultiLevelCache("a", l2=SQLiteTier(db), registry=Registry())
    b = MultiLevelCache("b", l2=SQLiteTier(db), registry=Registry())
    a.set("k", 1, tags=("t",))
    b.set("k", 2, tags=("t",))
    a.clear()
    b.clear_local()
    assert b.get("k") == 2


def test_a_sqlite_read_checks_and_reads_in_one_statement_and_sees_another_writers_bump(
    tmp_path: Path,
) -> None:
    """The generation check on every L2 read costs no second statement on SQLite (each one
    is a read transaction of its own): still, a bump by another connection counts at once."""
    db = tmp_path / "c.db"
    writer = MultiLevelCache("c", l2=SQLiteTier(db), registry=Registry())
    tier = SQLiteTier(db)
    reader = MultiLevelCache("c", l2=tier, registry=Registry())
    writer.set("k", 1, tags=("t",))
    assert reader.get("k") == 1  # the first read makes the view: the record in full
    statements: list[str] = []
    tier._conn().set_trace_callback(statements.append)
    reader.clear_local()
    assert reader.get("k") == 1
    assert len(statements) == 1, statements
    writer.invalidate_tag("t")
    reader.clear_local()
    assert reader.get("k") is None


def test_an_entry_written_before_generations_is_a_miss_never_misread(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    cache = MultiLevelCache("c", l2=SQLiteTier(db), registry=Registry())
    cache.set("k", "new layout")
    with sqlite3.connect(db) as conn:  # the entry layout of before: no stamp
        old = b"\x00" + cache.codec.encode("old")
        conn.execute("UPDATE cache SET value = ? WHERE key = ?", (old, cache.key_str("k")))
    cache.clear_local()
    assert cache.get("k") is None


def test_the_async_path_judges_entries_the_same_way(tmp_path: Path) -> None:
    db = tmp_path / "c.db"

    async def run() -> list[Any]:
        here = MultiLevelCache("c", l2=SQLiteTier(db), registry=Registry())
        there = MultiLevelCache("c", l2=SQLiteTier(db), registry=Registry())
        await here.aset("a:1", 1, tags=("t",))
        await here.aset("a:2", 2)
        seen = [await there.aget("a:1"), await there.aget("a:2")]
        there.clear_local()
        here.invalidate_tag("t")
        seen += [await there.aget("a:1"), await there.aget("a:2")]
        await here.aclose()
        await there.aclose()
        return seen

    assert asyncio.run(run()) == [1, 2, None, 2]


# -- Redis -----------------------------------------------------------------------------


def redis_cache(url: str, clock: FakeClock) -> MultiLevelCache:
    tier = GuardedTier(RedisTier(url, socket_timeout=0.5), owner="c", clock=clock, backoff=1.0)
    return MultiLevelCache("c", l2=tier, registry=Registry())


@pytest.mark.parametrize("how", list(INVALIDATIONS))
def test_redis_bulk_invalidation_while_the_server_is_down_survives_its_restart(
    tmp_path: Path, how: str
) -> None:
    """The server comes back with its data (saved before the kill): the old rows and the
    old generations are there again, and the bump kept here is stored before any read."""
    server = RedisServer(tmp_path).start()
    try:
        clock = FakeClock()
        cache = redis_cache(server.url, clock)
        cache.set("acct:1", "balance 100", tags=("acct",))
        redis.Redis.from_url(server.url).save()  # what the restart loads back
        server.stop()
        result = INVALIDATIONS[how](cache)
        assert result == 1 and result.reached_l2 is False
        server.start()
        assert cache.l2 is not None
        row = cache.l2.tier._k(cache.key_str("acct:1"))  # type: ignore[attr-defined]
        assert redis.Redis.from_url(server.url).exists(row)  # the old row is back
        clock.advance(1.0)
        assert cache.get("acct:1") is None
        remote = f"RedisTier({server.url!r})"
        assert second_process(remote, ["acct:1"]) == {"acct:1": None}
        cache.set("acct:1", "balance 50", tags=("acct",))
        assert second_process(remote, ["acct:1"]) == {"acct:1": "balance 50"}
        cache.close()
    finally:
        server.stop()


def test_redis_restarted_without_its_data_serves_nothing_stamped_before(
    redis_server: RedisServer,
) -> None:
    """A new incarnation of the record: an entry stamped under the old one (written by a
    process that had not read the record again yet) is a miss, never served."""
    clock = FakeClock()
    cache = redis_cache(redis_server.url, clock)
    cache.set("k", "before")
    stamp = cache.generations.stamp() if cache.generations is not None else None
    redis_server.stop()
    redis_server.start()  # empty: the record is made again, with another incarnation
    tier = RedisTier(redis_server.url)
    assert stamp is not None
    tier.set(
        cache.key_str("k"), pack_entry((), cache.codec.encode("before"), stamp)
    )  # an old stamp
    other = MultiLevelCache("c", l2=RedisTier(redis_server.url), registry=Registry())
    assert other.get("k") is None
    other.set("k", "after")
    other.clear_local()
    assert other.get("k") == "after"


def test_redis_tag_invalidation_is_seen_by_the_next_read_of_another_process(
    redis_url: str,
) -> None:
    clock = FakeClock()
    here = redis_cache(redis_url, clock)
    here.set("r:1", "x", tags=("g",))
    there = MultiLevelCache("c", l2=RedisTier(redis_url), registry=Registry())
    assert there.get("r:1") == "x"
    there.clear_local()
    result = here.invalidate_tag("g")
    assert result.reached_l2 is True and repr(result) == "InvalidationResult(1, reached_l2=True)"
    assert there.get("r:1") is None


def test_redis_async_reads_judge_by_the_record_read_on_the_async_client(redis_url: str) -> None:
    async def run() -> list[Any]:
        here = MultiLevelCache("ra", l2=RedisTier(redis_url), registry=Registry())
        there = MultiLevelCache("ra", l2=RedisTier(redis_url), registry=Registry())
        await here.aset("a:1", 1, tags=("t",))
        await here.aset("b:1", 2)
        seen = [await there.aget("a:1"), await there.aget("b:1")]
        there.clear_local()
        assert here.invalidate_prefix("a:").reached_l2
        seen += [await there.aget("a:1"), await there.aget("b:1")]
        await here.aclose()
        await there.aclose()
        return seen

    assert asyncio.run(run()) == [1, 2, None, 2]
