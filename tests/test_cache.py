"""MultiLevelCache over real SQLite files and a real redis-server; `cached` on def and async def."""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
import threading
from pathlib import Path

import pytest

from tests.helpers.scripted import FakeClock
from tui_perf.caches.codecs import PickleCodec
from tui_perf.caches.decorator import cached
from tui_perf.caches.memory_tier import MISSING, MemoryTier
from tui_perf.caches.multilevel import MultiLevelCache
from tui_perf.caches.redis_tier import RedisTier
from tui_perf.caches.sqlite_tier import SQLiteTier
from tui_perf.engine.registry import Registry
from tui_perf.model.errors import ConfigError

KEY = b"a-key-of-thirty-two-bytes-long!!"


def two_level(path: Path, **kw: object) -> MultiLevelCache:
    return MultiLevelCache("t", l2=SQLiteTier(path), registry=Registry(), **kw)  # type: ignore[arg-type]


def test_an_l2_hit_is_promoted_into_l1(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    writer = two_level(db)
    writer.set("user:1", {"name": "ada"})
    reader = two_level(db)  # another process would see the same file
    assert reader.get("user:1") == {"name": "ada"}
    assert reader.get("user:1") == {"name": "ada"}  # now from L1
    l1, l2 = reader.stats().tiers
    assert (l1.hits, l1.misses, l2.hits, l2.promotions) == (1, 1, 1, 1)
    assert reader.stats().hit_rate == 1.0


def test_a_miss_everywhere_returns_the_default(tmp_path: Path) -> None:
    cache = two_level(tmp_path / "c.db")
    assert cache.get("nope", "dflt") == "dflt"
    l1, l2 = cache.stats().tiers
    assert (l1.misses, l2.misses) == (1, 1)
    assert cache.stats().hit_rate == 0.0


def test_l2_expiry_uses_wall_time(tmp_path: Path) -> None:
    clock = FakeClock()
    tier = SQLiteTier(tmp_path / "c.db", timer=clock)
    cache = MultiLevelCache("t", l1=MemoryTier("tlru", timer=clock), l2=tier, registry=Registry())
    cache.set("k", 1, ttl=10)
    cache.l1.clear()
    clock.advance(11)
    assert cache.get("k") is None
    assert tier.stats().expirations == 1


def test_a_tampered_pickle_is_a_miss_and_is_never_unpickled(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    cache = two_level(db, codec=PickleCodec(KEY))
    cache.set("k", [1, 2, 3])
    with sqlite3.connect(db) as conn:  # flip one byte of the stored payload
        key = cache.key_str("k")
        (blob,) = conn.execute("SELECT value FROM cache WHERE key = ?", (key,)).fetchone()
        forged = blob[:-1] + bytes([blob[-1] ^ 1])
        conn.execute("UPDATE cache SET value = ? WHERE key = ?", (forged, key))
    fresh = two_level(db, codec=PickleCodec(KEY))
    assert fresh.get("k", "miss") == "miss"
    assert fresh.errors == 1 and "signature does not match" in fresh.last_error
    assert fresh.stats().tiers[1].hits == 0 and fresh.stats().tiers[1].misses == 1


def test_write_behind_waits_for_a_batch_or_close(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    cache = two_level(db, write_behind=True, batch_size=3, flush_interval=3600)
    cache.set("a", 1)
    cache.set("b", 2)

    def rows() -> int:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM cache").fetchone()[0])

    assert rows() == 0
    assert cache.get("a") == 1
    cache.l1.clear()
    assert cache.get("b") == 2  # a queued write is still readable
    cache.set("c", 3)  # the batch is full
    assert rows() == 3
    cache.set("d", 4)
    cache.close()
    assert rows() == 4


def test_prefix_and_tag_invalidation_reach_both_tiers(tmp_path: Path) -> None:
    cache = two_level(tmp_path / "c.db")
    cache.set("user:1", 1, tags=["team:red"])
    cache.set("user:2", 2, tags=["team:blue"])
    cache.set("order:1", 3, tags=["team:red"])
    assert cache.invalidate_prefix("user:") == 2
    assert cache.get("user:1") is None and cache.get("order:1") == 3
    assert cache.invalidate_tag("team:red") == 1
    cache.l1.clear()
    assert cache.get("order:1") is None


def test_warm_loads_only_what_is_missing(tmp_path: Path) -> None:
    cache = two_level(tmp_path / "c.db")
    cache.set(1, "one")
    loaded: list[object] = []
    assert cache.warm([1, 2, 3], lambda k: loaded.append(k) or f"v{k}") == 2
    assert loaded == [2, 3] and cache.get(3) == "v3"


def test_pressure_flushes_l1_but_never_a_pinned_cache_nor_l2(tmp_path: Path) -> None:
    cache = two_level(tmp_path / "c.db")
    cache.set("k", 1)
    assert cache.flush_memory() == 1
    assert len(cache.l1) == 0 and cache.get("k") == 1  # L2 kept it


def test_every_cache_joins_its_registry() -> None:
    registry = Registry()
    cache = MultiLevelCache("joined", registry=registry)
    assert [c.name for c in registry.caches()] == ["joined"]
    del cache


def test_redis_tier_against_a_real_server(redis_url: str) -> None:
    tier = RedisTier(redis_url, prefix="test1:")
    cache = MultiLevelCache("r", l2=tier, codec=PickleCodec(KEY), registry=Registry())
    cache.set("a:1", {"x": 1}, tags=["t"])
    cache.set("a:2", {"x": 2})
    cache.set("b:1", {"x": 3}, tags=["t"])
    other = MultiLevelCache(
        "r", l2=RedisTier(redis_url, prefix="test1:"), codec=PickleCodec(KEY), registry=Registry()
    )
    assert other.get("a:1") == {"x": 1} and other.promotions == 1
    assert cache.invalidate_prefix("a:") == 2
    assert RedisTier(redis_url, prefix="test1:").get("a:2") is MISSING  # gone from the server
    other.l1.clear()
    assert other.get("a:2") is None
    assert cache.invalidate_tag("t") == 1
    other.l1.clear()
    assert other.get("b:1") is None


def test_redis_ttl_and_async_path(redis_url: str) -> None:
    async def main() -> None:
        cache = MultiLevelCache(
            "ra",
            l1=MemoryTier("tlru"),
            l2=RedisTier(redis_url, prefix="test2:"),
            registry=Registry(),
        )
        await cache.aset("k", [1, 2], ttl=30)
        cache.l1.clear()
        assert await cache.aget("k") == [1, 2]
        await cache.aclose()

    asyncio.run(main())


# -- the decorator ---------------------------------------------------------------------


def test_cached_def_counts_like_functools() -> None:
    calls: list[int] = []

    @cached(registry=Registry())
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    assert [square(2), square(2), square(3), square(x=2)] == [4, 4, 9, 4]
    # x=2 by keyword is the same call as square(2): one entry (functools keeps two)
    assert calls == [2, 3]
    info = square.cache_info()  # type: ignore[attr-defined]
    assert (info.hits, info.misses, info.currsize) == (2, 2, 2)
    square.cache_clear()  # type: ignore[attr-defined]
    square(2)
    assert calls == [2, 3, 2]


def test_a_call_is_keyed_by_its_arguments_however_they_are_passed() -> None:
    calls: list[tuple[object, ...]] = []

    class Shape:
        @cached(registry=Registry())
        def area(self, w: int, h: int = 2, *, unit: str = "m") -> str:
            calls.append((w, h, unit))
            return f"{w * h} {unit}2"

        @cached(registry=Registry())
        def first(self, /, *rest: int) -> int:  # *args: the generic wrapper
            calls.append(rest)
            return rest[0]

    s = Shape()
    assert s.area(3) == s.area(3, 2) == s.area(w=3) == s.area(3, unit="m") == "6 m2"
    assert s.area(3, 4, unit="cm") == "12 cm2"
    assert calls == [(3, 2, "m"), (3, 4, "cm")]
    assert Shape.area.__name__ == "area"
    assert str(inspect.signature(Shape.area)) == str(inspect.signature(Shape.area.__wrapped__))
    with pytest.raises(
        TypeError, match=r"\.Shape\.area\(\) missing 1 required positional argument: 'w'"
    ):
        s.area()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unhashable"):
        s.area([1])  # type: ignore[arg-type]
    assert s.first(5, 6) == s.first(5, 6) == 5
    assert calls[2:] == [(5, 6)]
    info = Shape.area.cache_info()  # type: ignore[attr-defined]
    assert (info.hits, info.misses) == (3, 2)


def test_odd_parameter_names_and_no_parameters_still_cache() -> None:
    calls: list[object] = []

    @cached(registry=Registry())
    def shadowing(KeyError: int, _tp_k: int = 0) -> int:
        calls.append(KeyError)
        return KeyError + _tp_k

    @cached(registry=Registry())
    def constant() -> int:
        calls.append("constant")
        return 42

    @cached(registry=Registry())
    def with_options(x: int, opts: list[int] = [], *, extra: dict[str, int] = {}) -> int:  # noqa: B006
        calls.append(("opts", x))
        return x + len(opts) + len(extra)

    assert [shadowing(1), shadowing(1), constant(), constant()] == [1, 1, 42, 42]
    # unhashable defaults cannot be part of a key: the call is keyed as passed (as
    # functools.lru_cache does), and only an unhashable argument passed raises
    assert [with_options(1), with_options(1), with_options(x=1)] == [1, 1, 1]
    with pytest.raises(TypeError, match="unhashable"):
        with_options(1, [2])
    assert calls == [1, "constant", ("opts", 1), ("opts", 1)]


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"ttl": "60"}, "ttl must be a number of seconds, got '60'"),
        ({"ttl": True}, "ttl must be a number of seconds"),
        ({"maxsize": "10"}, "maxsize must be a whole number"),
        ({"maxsize": 0}, "maxsize must be at least 1"),
    ],
)
def test_bad_cache_settings_are_one_clear_error(settings: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        cached(registry=Registry(), **settings)(lambda x: x)  # type: ignore[call-overload]


def test_typed_keys_and_a_key_function() -> None:
    calls: list[object] = []

    @cached(typed=True, registry=Registry())
    def f(x: object) -> object:
        calls.append(x)
        return x

    f(1)
    f(1.0)
    assert calls == [1, 1.0]

    @cached(key=lambda user, verbose=False: user["id"], registry=Registry())
    def g(user: dict[str, int], verbose: bool = False) -> int:
        calls.append("g")
        return user["id"]

    g({"id": 7})
    g({"id": 7}, verbose=True)
    assert calls.count("g") == 1


def test_ttl_on_the_decorator() -> None:
    clock = FakeClock()
    cache = MultiLevelCache("ttl", l1=MemoryTier("ttl", ttl=5, timer=clock), registry=Registry())
    calls: list[int] = []

    @cached(cache=cache)
    def f(x: int) -> int:
        calls.append(x)
        return x

    f(1)
    clock.advance(4)
    f(1)
    clock.advance(2)
    f(1)
    assert calls == [1, 1]


def test_exceptions_are_not_cached() -> None:
    attempts: list[int] = []

    @cached(registry=Registry())
    def flaky(x: int) -> int:
        attempts.append(x)
        if len(attempts) == 1:
            raise RuntimeError("first time fails")
        return x

    with pytest.raises(RuntimeError):
        flaky(1)
    assert flaky(1) == 1 and flaky(1) == 1
    assert len(attempts) == 2


def test_single_flight_under_50_threads() -> None:
    calls: list[int] = []
    release = threading.Event()
    entered = threading.Condition()
    inside = [0]

    @cached(registry=Registry())
    def slow(x: int) -> int:
        calls.append(x)
        release.wait(10)
        return x * 10

    results: list[int] = []

    def caller() -> None:
        with entered:
            inside[0] += 1
            entered.notify_all()
        results.append(slow(5))

    threads = [threading.Thread(target=caller) for _ in range(50)]
    for t in threads:
        t.start()
    with entered:
        assert entered.wait_for(lambda: inside[0] == 50, 10)
    release.set()
    for t in threads:
        t.join(10)
    assert calls == [5]
    assert results == [50] * 50


def test_concurrent_waiters_share_a_failure_and_later_callers_retry() -> None:
    release = threading.Event()
    calls: list[int] = []

    @cached(registry=Registry())
    def fails_once(x: int) -> int:
        calls.append(x)
        if len(calls) == 1:
            release.wait(10)
            raise ValueError("boom")
        return x

    errors: list[BaseException] = []

    def caller() -> None:
        try:
            fails_once(1)
        except ValueError as exc:
            errors.append(exc)

    leader = threading.Thread(target=caller)
    leader.start()
    followers = [threading.Thread(target=caller) for _ in range(5)]
    for t in followers:
        t.start()
    release.set()
    for t in [leader, *followers]:
        t.join(10)
    assert errors and all(str(e) == "boom" for e in errors)
    assert fails_once(1) == 1  # a later caller computes again
    assert calls.count(1) >= 2


def test_single_flight_under_50_coroutines() -> None:
    calls: list[int] = []

    @cached(registry=Registry())
    async def fetch(x: int) -> int:
        calls.append(x)
        await release.wait()
        return x + 1

    async def main() -> list[int]:
        tasks = [asyncio.create_task(fetch(1)) for _ in range(50)]
        await asyncio.sleep(0)  # one turn of the loop: every task is now waiting
        release.set()
        return await asyncio.gather(*tasks)

    release = asyncio.Event()
    assert asyncio.run(main()) == [2] * 50
    assert calls == [1]
    assert fetch.cache_info().hits == 0  # type: ignore[attr-defined]


def test_async_exceptions_are_not_cached() -> None:
    calls: list[int] = []

    @cached(registry=Registry())
    async def flaky(x: int) -> int:
        calls.append(x)
        if len(calls) == 1:
            raise KeyError("once")
        return x

    async def main() -> None:
        with pytest.raises(KeyError):
            await flaky(3)
        assert await flaky(3) == 3
        assert await flaky(3) == 3

    asyncio.run(main())
    assert calls == [3, 3]


def test_async_cached_over_sqlite_promotes_from_l2(tmp_path: Path) -> None:
    db = tmp_path / "c.db"

    def make() -> object:
        @cached(l2=SQLiteTier(db), registry=Registry())
        async def double(x: int) -> int:
            calls.append(x)
            return 2 * x

        return double

    calls: list[int] = []

    async def main() -> None:
        first = make()
        assert await first(21) == 42  # type: ignore[operator]
        await first.cache.aclose()  # type: ignore[attr-defined]
        second = make()  # a new process would start like this: empty L1, same file
        assert await second(21) == 42  # type: ignore[operator]
        assert second.cache.promotions == 1  # type: ignore[attr-defined]
        await second.cache.aclose()  # type: ignore[attr-defined]

    asyncio.run(main())
    assert calls == [21]


def test_a_per_item_ttl_needs_tlru() -> None:
    with pytest.raises(ConfigError, match="tlru"):
        MultiLevelCache("x", registry=Registry()).set("k", 1, ttl=5)


def test_lock_free_lru_hits_never_break_an_eviction_on_another_thread() -> None:
    """A hit moves its key in the LRU order without the lock while a miss on another thread
    evicts (cachetools iterates that order): no caller may see the race, and every call is
    counted once."""
    import random
    import sys

    @cached(maxsize=4, registry=Registry())
    def tenfold(a: int) -> int:
        return a * 10

    errors: list[BaseException] = []
    wrong: list[tuple[int, int]] = []

    def work(seed: int) -> None:
        rnd = random.Random(seed)
        for _ in range(20_000):
            a = rnd.randrange(8)
            try:
                if (got := tenfold(a)) != a * 10:
                    wrong.append((a, got))
            except Exception as exc:
                errors.append(exc)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    info = tenfold.cache_info()  # type: ignore[attr-defined]
    assert errors == [] and wrong == []
    assert info.hits + info.misses == 160_000
