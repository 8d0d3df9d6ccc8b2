"""The registry holds caches and pools weakly and survives a broken one."""

from __future__ import annotations

import gc

from tui_perf.caches.multilevel import MultiLevelCache
from tui_perf.engine.registry import Registry
from tui_perf.model.snapshot import CacheStats, PoolStats, TierStats


class _Cache:
    pinned = False

    def __init__(self, name: str) -> None:
        self.name = name

    def stats(self) -> CacheStats:
        return CacheStats(self.name, (TierStats("L1", "lru", hits=1),))

    def flush_memory(self) -> int:
        return 0


class _BrokenPool:
    name = "broken"

    def stats(self) -> PoolStats:
        raise RuntimeError("boom")

    def drain(self) -> int:
        return 0


def test_registered_objects_are_listed_by_name_and_leave_when_dropped() -> None:
    registry = Registry()
    b, a = _Cache("b"), _Cache("a")
    registry.register_cache(b)
    registry.register_cache(a)
    assert [c.name for c in registry.caches()] == ["a", "b"]
    del a
    gc.collect()
    assert [c.name for c in registry.caches()] == ["b"]
    registry.unregister(b)
    assert registry.caches() == []


def test_one_failing_stats_call_does_not_hide_the_others() -> None:
    registry = Registry()
    broken, cache = _BrokenPool(), _Cache("ok")
    registry.register_pool(broken)
    registry.register_cache(cache)
    assert registry.pool_stats() == ()
    assert [s.name for s in registry.cache_stats()] == ["ok"]


def test_the_list_read_each_tick_follows_joins_and_leaves() -> None:
    registry = Registry()
    first = MultiLevelCache("b-cache", registry=registry)
    assert [c.name for c in registry.caches()] == ["b-cache"]
    second = MultiLevelCache("a-cache", registry=registry)
    assert [c.name for c in registry.caches()] == ["a-cache", "b-cache"]
    del first
    gc.collect()
    assert [c.name for c in registry.caches()] == ["a-cache"]
    registry.unregister(second)
    assert registry.caches() == [] and registry.cache_stats() == ()


def test_a_member_that_did_not_change_keeps_its_stats_object_and_one_that_did_is_read() -> None:
    """Stats are read again only for what moved since the last tick (issue #32: every
    cache's full stats at every tick was most of a tick at 1,000 caches)."""
    from tui_perf.caches.memory_tier import MemoryTier
    from tui_perf.pools.objects import ObjectPool

    registry = Registry()
    quiet = MultiLevelCache("quiet", registry=registry)
    busy = MultiLevelCache("busy", registry=registry)
    expiring = MultiLevelCache("expiring", l1=MemoryTier("ttl", 10, ttl=60), registry=registry)
    pool = ObjectPool(dict, name="pool", registry=registry)
    first = {s.name: s for s in registry.cache_stats()}
    (pool_first,) = registry.pool_stats()

    def again() -> dict[str, CacheStats]:
        return {s.name: s for s in registry.cache_stats()}

    busy.set("k", 1)
    second = again()
    assert second["quiet"] is first["quiet"]
    assert second["busy"] is not first["busy"] and second["busy"].tiers[0].sets == 1
    # entries that expire with time: read every time, whatever moved
    assert second["expiring"] is not first["expiring"]
    for change in (
        lambda: busy.get("k"),
        lambda: busy.get("missing"),
        lambda: busy.delete("k"),
        lambda: busy.set("k", 2),
        busy.clear_local,
        lambda: busy.l1.resize(5),
    ):
        before = again()["busy"]
        change()
        after = again()["busy"]
        assert after is not before and after != before
        assert again()["busy"] is after
    assert again()["quiet"] is first["quiet"]
    # a pool: a get and a put each move it; resting, it is not read
    assert registry.pool_stats()[0] is pool_first
    obj = pool.get()
    lent = registry.pool_stats()[0]
    assert lent is not pool_first and lent.in_use == 1
    pool.put(obj)
    back = registry.pool_stats()[0]
    assert back.in_use == 0 and back.idle == 1
    assert registry.pool_stats()[0] is back
    assert (quiet.name, expiring.name) == ("quiet", "expiring")  # held here: the registry is weak
