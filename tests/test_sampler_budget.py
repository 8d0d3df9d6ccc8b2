"""The caches' key-stream samplers hold memory in proportion to what their caches see, and
all together stay under the budget, which the snapshot reports (issue #32: each sampler
took 270 KB whatever its cache, 314 MB for 1,000 caches of 128 entries)."""

from __future__ import annotations

import random
import tracemalloc

import pytest

from tui_perf.advice.commands import state_of
from tui_perf.advice.keystreams import KeyStreams, keys_for
from tui_perf.advice.mrc import ShardsSampler
from tui_perf.caches.memory_tier import MISSING, MemoryTier
from tui_perf.engine.core import Engine, EngineConfig
from tui_perf.engine.registry import Registry
from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import Snapshot


class Cache:
    def __init__(self, name: str, maxsize: int = 128) -> None:
        self.name, self.l1 = name, MemoryTier("lru", maxsize)


def lookups(cache: Cache, n: int, keys: int, rng: random.Random) -> None:
    get, put = cache.l1.get, cache.l1.set
    for _ in range(n):
        k = rng.randrange(keys)
        if get(k) is MISSING:
            put(k, k)


def test_a_cache_with_no_lookups_holds_nothing_and_one_with_lookups_holds_little() -> None:
    streams = KeyStreams(clock=lambda: 0.0)
    quiet, busy = Cache("quiet"), Cache("busy")
    streams.follow([quiet, busy])
    lookups(busy, 400, 80, random.Random(1))
    streams.drain()
    memory = streams.memory()
    assert (memory.samplers, memory.holding) == (2, 1)
    ((_, q, _), (_, b, _)) = streams._followed.values()
    assert q.nbytes() == 0 and q._fenwick is None and q.stream is None
    # 80 keys of a 128-entry cache: a tree sized by the keys seen, not 4 x the key budget
    assert 0 < b.nbytes() < 100_000 and len(b._fenwick.tree) <= 4 * 80 + 64
    assert keys_for(128, 1.0, 8192) == 4096  # and its key budget follows its size


def test_the_estimate_is_near_what_tracemalloc_measures() -> None:
    rng = random.Random(3)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        sampler = ShardsSampler(0.5, max_keys=4096, max_stream=5000)
        for i in range(40_000):
            sampler.offer(int(rng.paretovariate(0.8)) % 20_000, float(i))
            if i % 5000 == 0:
                sampler.drain()
        sampler.drain()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert 0.7 * held <= sampler.nbytes() <= 1.3 * held


def test_all_samplers_stay_under_the_budget_the_busiest_keep_theirs() -> None:
    budget = 256 * 1024
    streams = KeyStreams(clock=lambda: 0.0, budget_bytes=budget)
    caches = [Cache(f"c{i:02d}") for i in range(40)]
    streams.follow(caches)
    rng = random.Random(2)
    for _ in range(5):
        for i, cache in enumerate(caches):
            lookups(cache, 20 + 20 * i, 100, rng)  # c39 the busiest, c00 the quietest
        streams.drain()
        assert streams.budget.used <= budget
    memory = streams.memory()
    assert memory.used <= budget and memory.budget == budget
    assert memory.degraded > 0 and memory.dropped > 0
    followed = {name for _, _, name in streams._followed.values()}
    assert "c39" in followed and "c00" not in followed
    # the estimate it kept is the samplers' own, and a dropped cache is not sampled again
    assert memory.used == sum(s.nbytes() for _, s, _ in streams._followed.values())
    streams.follow(caches)
    assert "c00" not in {name for _, _, name in streams._followed.values()}
    assert caches[0].l1.keystream is None


def test_the_snapshot_reports_the_samplers_against_the_configured_budget() -> None:
    now = [0.0]
    registry = Registry()
    engine = Engine(EngineConfig(sampler_budget_mib=0.5), registry=registry, clock=lambda: now[0])
    state = state_of(engine)
    cache = Cache("users")
    registered = _Registered(cache)  # the registry holds it weakly
    registry.register_cache(registered)
    engine.tick()  # the samplers are attached here
    lookups(cache, 500, 80, random.Random(4))
    engine.tick()
    stats = state.check()
    assert stats.samplers is not None
    assert stats.samplers.budget == 512 * 1024 and stats.samplers.holding == 1
    assert 0 < stats.samplers.used <= stats.samplers.budget
    snap = engine.tick()
    again = Snapshot.from_dict(snap.to_dict())
    assert again.advice is not None and again.advice.samplers == snap.advice.samplers  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="sampler_budget_mib"):
        EngineConfig(sampler_budget_mib=0)


class _Registered:
    """A cache as the registry sees one: a name, an L1, stats."""

    pinned = False

    def __init__(self, cache: Cache) -> None:
        self.name, self.l1 = cache.name, cache.l1

    def stats(self):  # type: ignore[no-untyped-def]
        from tui_perf.model.snapshot import CacheStats

        return CacheStats(self.name, (self.l1.stats(),))

    def flush_memory(self) -> int:
        return self.l1.clear()
