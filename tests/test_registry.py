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
