"""What a cache promises, each reproduced as it failed before: namespaces, TTL, codecs,
peek, concurrency, close, Redis tags and coherence across processes."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import subprocess
import sys
import textwrap
import threading
import zlib
from pathlib import Path

import cachetools
import pytest
import redis

from tests.conftest import ROOT
from tests.helpers.scripted import FakeClock
from tui_perf.caches.codecs import JsonCodec, PickleCodec, UndecodableValueError
from tui_perf.caches.decorator import cached
from tui_perf.caches.memory_tier import MISSING, MemoryTier
from tui_perf.caches.multilevel import MultiLevelCache
from tui_perf.caches.redis_tier import RedisTier
from tui_perf.caches.sqlite_tier import SQLiteTier
from tui_perf.engine.registry import Registry
from tui_perf.model.errors import ConfigError

KEY = b"a-key-of-thirty-two-bytes-long!!"


def cache_on(path: Path, name: str, **kw: object) -> MultiLevelCache:
    return MultiLevelCache(name, l2=SQLiteTier(path), registry=Registry(), **kw)  # type: ignore[arg-type]


# -- namespaces ------------------------------------------------------------------------


def test_two_caches_on_one_file_never_see_or_clear_each_others_entries(tmp_path: Path) -> None:
    db = tmp_path / "cache.db"
    pages, users = cache_on(db, "pages"), cache_on(db, "users")
    pages.set("1", "page one")
    users.set("1", "user one")
    pages.l1.clear()
    users.l1.clear()
    assert (pages.get("1"), users.get("1")) == ("page one", "user one")
    pages.clear()
    users.l1.clear()
    assert pages.get("1") is None
    assert users.get("1") == "user one"  # the other cache's entry survived clear()


def test_int_and_str_keys_stay_distinct_in_l2(tmp_path: Path) -> None:
    cache = cache_on(tmp_path / "c.db", "typed")
    cache.set(1, "int")
    cache.set("1", "str")
    cache.l1.clear()
    assert (cache.get(1), cache.get("1")) == ("int", "str")


# -- TTL -------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["lru", "lfu", "fifo", "rr"])
def test_cached_ttl_is_honoured_by_every_policy_and_by_l2(tmp_path: Path, policy: str) -> None:
    clock = FakeClock()
    tier = SQLiteTier(tmp_path / "c.db", timer=clock)
    calls: list[int] = []

    @cached(
        cache=MultiLevelCache(
            "ttl", l1=MemoryTier(policy, 64, ttl=10, timer=clock), l2=tier, registry=Registry()
        )
    )
    def f(x: int) -> int:
        calls.append(x)
        return x

    f(1)
    f(1)
    assert calls == [1]
    clock.advance(11)
    f(1)
    assert calls == [1, 1]  # expired in L1, and in L2 (not promoted back)
    with sqlite3.connect(tier.path) as conn:
        (expires,) = conn.execute("SELECT expires FROM cache").fetchone()
    assert expires == pytest.approx(clock() + 10)  # L2 rows carry the expiry


# -- codecs ----------------------------------------------------------------------------


def test_a_flipped_format_byte_is_a_counted_miss_not_an_unpickle(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    cache = cache_on(db, "fmt", codec=PickleCodec(KEY))
    cache.set("k", list(range(1000)))  # compressed: format byte "p"
    key = cache.key_str("k")
    with sqlite3.connect(db) as conn:
        (blob,) = conn.execute("SELECT value FROM cache WHERE key = ?", (key,)).fetchone()
        at = blob.index(b"p")  # the format byte, after the entry header
        flipped = blob[:at] + b"P" + blob[at + 1 :]  # "read me as uncompressed pickle"
        conn.execute("UPDATE cache SET value = ? WHERE key = ?", (flipped, key))
    fresh = cache_on(db, "fmt", codec=PickleCodec(KEY))
    assert fresh.get("k", "miss") == "miss"
    l2 = fresh.stats().tiers[1]
    assert (l2.hits, l2.misses, fresh.errors) == (0, 1, 1)


def test_corrupt_json_is_a_counted_miss(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    cache = cache_on(db, "json")
    cache.set("k", {"a": 1})
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE cache SET value = ?", (b"J{not json",))
    fresh = cache_on(db, "json")
    assert fresh.get("k", "miss") == "miss"
    assert fresh.errors == 1 and fresh.stats().tiers[1].misses == 1


def test_decompression_is_bounded() -> None:
    """254 KiB of zlib that inflates to 256 MiB: refused at the limit, not allocated."""
    bomb = b"j" + zlib.compress(b"[" + b"0," * (1 << 20) + b"0]", 9)
    with pytest.raises(UndecodableValueError, match="max_value_bytes"):
        JsonCodec(max_value_bytes=1 << 16).decode(bomb)


def test_json_gives_back_an_equal_value_or_refuses_at_set(tmp_path: Path) -> None:
    cache = cache_on(tmp_path / "c.db", "exact")
    with pytest.raises(ConfigError, match="JsonCodec"):
        cache.set("k", {"ids": (1, 2), 7: "seven"})
    assert cache.get("k") is None  # refused before anything was stored, L1 included


# -- peek ------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["lru", "lfu", "fifo", "rr", "ttl", "tlru"])
def test_peek_has_no_side_effects_against_plain_cachetools(policy: str) -> None:
    """The same operations on a MemoryTier (with peeks mixed in) and on plain cachetools
    (without them) leave the same contents: peeking touches no recency or frequency."""
    rng = random.Random(7)
    clock = FakeClock()
    plain: cachetools.Cache[int, int]
    if policy == "ttl":
        plain = cachetools.TTLCache(16, 1e9, timer=clock)
        tier = MemoryTier("ttl", 16, ttl=1e9, timer=clock)
    elif policy == "tlru":
        plain = cachetools.TLRUCache(16, lambda k, v, now: now + 1e9, timer=clock)
        tier = MemoryTier("tlru", 16, ttl=1e9, timer=clock)
    else:
        plain = {
            "lru": cachetools.LRUCache,
            "lfu": cachetools.LFUCache,
            "fifo": cachetools.FIFOCache,
        }.get(policy, cachetools.LRUCache)(16)
        tier = MemoryTier(policy, 16)
    if policy == "rr":  # random eviction: same seed for both
        plain = cachetools.RRCache(16, choice=random.Random(1).choice)
        tier = MemoryTier("rr", 16)
        tier.cache = type(tier.cache)(16, choice=random.Random(1).choice)  # type: ignore[call-arg]
        fast = tier.fast_lookup()  # the hit path and sampling read the new cache's storage
        assert fast is not None
        tier._data, tier._touch = fast
        tier._storage = fast[0]
    for _ in range(2000):
        k = rng.randrange(40)
        op = rng.random()
        if op < 0.4:
            plain[k] = k
            tier.set(k, k)
        elif op < 0.8:
            plain.get(k)
            tier.get(k)
        else:
            tier.peek(k)  # only on one side
            _ = k in tier
    assert sorted(plain.keys()) == sorted(tier.keys())


# -- concurrency and lifecycle ---------------------------------------------------------


def test_500_concurrent_asets_and_500_concurrent_cached_misses_on_sqlite(tmp_path: Path) -> None:
    """Reproduced: 200 concurrent aset gave 160 'cannot start a transaction within a
    transaction'. One async writer per connection now: zero errors."""

    async def main() -> None:
        cache = cache_on(tmp_path / "c.db", "many")
        results = await asyncio.gather(
            *(cache.aset(f"k{i}", i) for i in range(500)), return_exceptions=True
        )
        assert [r for r in results if r is not None] == []

        @cached(l2=SQLiteTier(tmp_path / "c.db"), registry=Registry())
        async def triple(x: int) -> int:
            await asyncio.sleep(0)
            return 3 * x

        values = await asyncio.gather(*(triple(i) for i in range(500)), return_exceptions=True)
        assert values == [3 * i for i in range(500)]
        await cache.aclose()
        await triple.cache.aclose()  # type: ignore[attr-defined]

    asyncio.run(main())
    with sqlite3.connect(tmp_path / "c.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM cache").fetchone()[0] == 1000


def test_concurrent_first_async_calls_open_one_sqlite_connection(tmp_path: Path) -> None:
    """Reproduced: concurrent first async calls (100 agets here) each opened an aiosqlite
    connection and its thread, a crowd of connections on one file where one was meant.
    The tier opens one for them all."""

    def workers() -> int:
        return sum("_connection_worker_thread" in t.name for t in threading.enumerate())

    async def main() -> int:
        tier = SQLiteTier(tmp_path / "c.db")
        before, peak = workers(), 0

        async def watch() -> None:  # the lost connections end when dropped: watch the peak
            nonlocal peak
            for _ in range(200):
                peak = max(peak, workers() - before)
                await asyncio.sleep(0)

        await asyncio.gather(
            watch(),
            *(tier.aget(f"k{i}") for i in range(100)),
            *(tier.aset_many([(f"k{i}", b"v", None, ())]) for i in range(200)),
        )
        await tier.aclose()
        return peak

    assert asyncio.run(main()) == 1
    with sqlite3.connect(tmp_path / "c.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM cache").fetchone()[0] == 200


def test_a_program_using_async_cached_with_sqlite_exits_without_closing(tmp_path: Path) -> None:
    """Reproduced: the aiosqlite thread kept the interpreter alive after main() returned."""
    code = textwrap.dedent(f"""
        import asyncio
        from tui_perf import SQLiteTier, cached

        @cached(l2=SQLiteTier({str(tmp_path / "c.db")!r}))
        async def f(x):
            return x

        asyncio.run(f(1))
        print("done")
    """)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert out.returncode == 0 and out.stdout.strip() == "done", out.stderr


def test_close_is_idempotent_and_set_after_close_raises(tmp_path: Path) -> None:
    with cache_on(tmp_path / "c.db", "closing", write_behind=True) as cache:
        cache.set("a", 1)
    cache.close()
    with pytest.raises(ConfigError, match="closed"):
        cache.set("b", 2)
    fresh = cache_on(tmp_path / "c.db", "closing")
    assert fresh.get("a") == 1 and fresh.get("b") is None
    # nor may an invalidation claim to have reached L2 once the cache is closed
    for refused in (
        cache.clear,
        lambda: cache.delete("a"),
        lambda: cache.invalidate_tag("t"),
        lambda: cache.invalidate_prefix("a"),
    ):
        with pytest.raises(ConfigError, match=r"closed: \w+\(\) after close\(\) is refused"):
            refused()
    assert fresh.get("a") == 1


@pytest.mark.parametrize(
    ("tags", "says"),
    [
        ([1], "must be a str, not int"),
        ("admin", "not one str"),
        (["a\x1fb"], "control characters"),
    ],
)
def test_a_bad_tag_is_refused_in_one_line_before_anything_is_stored(
    tmp_path: Path, tags: object, says: str
) -> None:
    cache = cache_on(tmp_path / "c.db", "tags")
    with pytest.raises(ConfigError, match=says) as caught:
        cache.set("a", 1, tags=tags)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)
    assert "a" not in cache  # not in L1 either
    cache.clear_local()
    assert cache.get("a") is None
    with pytest.raises(ConfigError, match="must be a str"):
        cache.invalidate_tag(1)  # type: ignore[arg-type]
    cache.close()


def test_a_prefix_or_redis_url_of_the_wrong_kind_is_a_one_line_config_error(
    tmp_path: Path,
) -> None:
    cache = cache_on(tmp_path / "c.db", "prefix")
    with pytest.raises(ConfigError, match=r"invalidate_prefix takes .* a str, not int"):
        cache.invalidate_prefix(1)  # type: ignore[arg-type]
    cache.close()
    with pytest.raises(ConfigError, match=r"bad Redis URL 'http://x'.*redis://"):
        RedisTier("http://x")


def test_sqlite_culls_to_its_limits_and_purges_expired_rows(tmp_path: Path) -> None:
    clock = FakeClock()
    tier = SQLiteTier(tmp_path / "c.db", timer=clock, max_entries=100)
    cache = MultiLevelCache(
        "cull", l1=MemoryTier("tlru", timer=clock), l2=tier, registry=Registry()
    )
    for i in range(50):
        cache.set(f"short{i}", i, ttl=5)
    clock.advance(6)
    for i in range(300):
        cache.set(f"k{i}", i)
    stats = tier.stats()
    assert stats.size <= 100 and stats.evictions > 0
    with sqlite3.connect(tier.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM cache WHERE key LIKE '%short%'").fetchone() == (
            0,
        )
        (count, size) = conn.execute("SELECT COUNT(*), SUM(size) FROM cache").fetchone()
    assert (stats.size, stats.bytes) == (count, size)  # the counters match the table
    cache.l1.clear()
    assert cache.get("k299") == 299  # the newest are kept


# -- Redis -----------------------------------------------------------------------------


def test_redis_tags_are_kept_exact_and_expire(redis_url: str) -> None:
    """Reproduced: tag membership outlived re-tags and deletes; tag sets had no TTL."""
    tier = RedisTier(redis_url, prefix="tags1:")
    raw = redis.Redis.from_url(redis_url)
    cache = MultiLevelCache("t", l2=tier, registry=Registry())
    for i in range(1000):
        cache.set(f"k{i}", i, tags=["old"])
    for i in range(1000):
        cache.delete(f"k{i}")
    tag_key = tier._tag(cache.namespace + "old")
    assert raw.scard(tag_key) == 0  # no members left for 0 live values
    cache.set("x", 1, tags=["red"])
    cache.set("x", 2, tags=["blue"])  # re-tagged
    assert cache.invalidate_tag("red") == 0  # no longer red: not invalidated
    cache.l1.clear()
    assert cache.get("x") == 2
    timed = MultiLevelCache("t2", l1=MemoryTier("tlru"), l2=tier, registry=Registry())
    timed.set("y", 1, ttl=30, tags=["green"])
    assert 0 < raw.pttl(tier._k(timed.key_str("y"))) <= 30_000  # the entry expires
    assert 0 < raw.pttl(tier._tag(timed.namespace + "green")) <= 30_000  # so does its tag


def _peer(redis_url: str, script: str) -> subprocess.Popen[str]:
    code = textwrap.dedent(f"""
        import sys, time
        from tui_perf import MultiLevelCache, RedisTier
        cache = MultiLevelCache("shared", l2=RedisTier({redis_url!r}, prefix="coh:"),
                                coherence=True)
    """) + textwrap.dedent(script)
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def test_a_delete_in_one_process_reaches_the_others_l1_within_100_ms(redis_url: str) -> None:
    peer = _peer(
        redis_url,
        """
        cache.set("user:1", "ada", tags=["team"])
        cache.set("user:2", "bob", tags=["team"])
        print("ready", flush=True)
        sys.stdin.readline()             # the parent deleted user:1
        t0 = time.monotonic()
        while "user:1" in cache and time.monotonic() - t0 < 5:
            time.sleep(0.001)
        print(f"{time.monotonic() - t0:.4f}", flush=True)
        sys.stdin.readline()             # the parent invalidated the tag
        t0 = time.monotonic()
        while "user:2" in cache and time.monotonic() - t0 < 5:
            time.sleep(0.001)
        print(f"{time.monotonic() - t0:.4f}", flush=True)
        """,
    )
    assert peer.stdin is not None and peer.stdout is not None
    try:
        assert peer.stdout.readline().strip() == "ready"
        here = MultiLevelCache(
            "shared", l2=RedisTier(redis_url, prefix="coh:"), coherence=True, registry=Registry()
        )
        assert here.get("user:2") == "bob"  # a promoted copy, with its tags
        here.delete("user:1")
        peer.stdin.write("\n")
        peer.stdin.flush()
        assert float(peer.stdout.readline()) < 0.1
        here.invalidate_tag("team")
        peer.stdin.write("\n")
        peer.stdin.flush()
        assert float(peer.stdout.readline()) < 0.1
        assert "user:2" not in here  # the promoted copy here went too
        here.close()
    finally:
        peer.kill()
        peer.wait(10)


def test_memory_tier_expiry_side_table_stays_bounded() -> None:
    clock = FakeClock()
    tier = MemoryTier("lfu", 8, ttl=100, timer=clock)
    for i in range(10_000):
        tier.set(i, i)
    assert tier._expires is not None and len(tier._expires) <= 2 * 8 + 64
    assert tier.get(9_999) == 9_999 and tier.get(0) is MISSING


def test_a_byte_limit_below_the_empty_file_culls_everything_and_never_spins(
    tmp_path: Path,
) -> None:
    tier = SQLiteTier(tmp_path / "c.db", max_bytes=1)
    cache = MultiLevelCache("tiny", l2=tier, registry=Registry())
    for i in range(20):
        cache.set(i, i)
    assert tier.stats().size == 0 and tier.stats().evictions == 20
