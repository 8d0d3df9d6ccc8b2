"""Miss-ratio curves: exact at rate 1, close at a sampling rate on a skewed stream, bounded
memory; a memory tier whose keys are sampled counts and answers exactly as one that is not."""

from __future__ import annotations

import itertools
import random

import cachetools
import pytest

from tui_perf.advice.mrc import ShardsSampler
from tui_perf.caches.memory_tier import MISSING, MemoryTier
from tui_perf.caches.sampling import spatial_hash


def zipf(n: int, keys: int, s: float, seed: int = 1) -> list[int]:
    rng = random.Random(seed)
    weights = list(itertools.accumulate(1 / (i + 1) ** s for i in range(keys)))
    return rng.choices(range(keys), cum_weights=weights, k=n)


def lru_truth(stream: list[int], size: int) -> float:
    cache: cachetools.LRUCache[int, bool] = cachetools.LRUCache(size)
    hits = 0
    for k in stream:
        if cache.get(k) is not None:
            hits += 1
        else:
            cache[k] = True
    return hits / len(stream)


def feed(sampler: ShardsSampler, stream: list[int]) -> None:
    for i, k in enumerate(stream):
        sampler.offer(k, float(i))
        if i % 5000 == 0:
            sampler.drain()
    sampler.drain()


STREAM = zipf(60_000, 20_000, 1.0)


def test_at_rate_one_the_curve_is_the_lru_hit_rate_to_within_its_bins() -> None:
    """Unsampled, only the histogram's 2%-wide bins (spread evenly) stand between the
    curve and an LRU cache replaying the same stream."""
    sampler = ShardsSampler(1.0, max_keys=100_000)
    feed(sampler, STREAM)
    for size in (1, 50, 200, 1000, 4000):
        assert sampler.hit_rate(size) == pytest.approx(lru_truth(STREAM, size), abs=0.003)


def test_a_sampled_fixed_size_curve_is_within_two_points_and_bounded() -> None:
    sampler = ShardsSampler(0.5, max_keys=1024)  # forced to lower its rate as keys arrive
    feed(sampler, STREAM)
    assert sampler.rate < 0.5 and len(sampler._last) <= 1024
    for size in (250, 500, 2000, 4000):
        assert abs(sampler.hit_rate(size) - lru_truth(STREAM, size)) < 0.02  # type: ignore[operator]
        simulated = sampler.simulate("lru", size)
        assert simulated is not None and abs(simulated - lru_truth(STREAM, size)) < 0.04


def test_policies_are_simulated_and_a_bad_policy_is_named() -> None:
    sampler = ShardsSampler(0.5)
    feed(sampler, STREAM)
    rates = {p: sampler.simulate(p, 1000, ttl=1e9) for p in ("lru", "lfu", "fifo", "rr", "ttl")}
    assert all(r is not None and 0 < r < 1 for r in rates.values())
    # on a stationary Zipf stream frequency wins: LFU beats FIFO (a known ordering)
    assert rates["lfu"] > rates["fifo"]  # type: ignore[operator]
    with pytest.raises(ValueError, match="unknown policy 'mru'"):
        sampler.simulate("mru", 1000)


def test_a_drain_with_too_many_samples_lowers_the_rate_instead_of_working_on() -> None:
    sampler = ShardsSampler(1.0, max_batch=1000)
    for k in range(5000):
        sampler.offer(k)
    sampler.drain()
    assert sampler.rate <= 0.2 + 1e-9
    assert sampler._actual <= 1200  # only the keys under the new threshold were processed


# -- a memory tier followed by a sampler -----------------------------------------------------


def replay(tier: MemoryTier, stream: list[int]) -> list[object]:
    out = []
    for k in stream:
        value = tier.get(k)
        if value is MISSING:
            tier.set(k, k * 2)
        out.append(value)
    return out


@pytest.mark.parametrize("policy", ["lru", "lfu", "fifo", "ttl"])
def test_sampling_changes_no_answer_and_no_count(policy: str) -> None:
    stream = STREAM[:20_000]
    kwargs = {"ttl": 1e9} if policy == "ttl" else {}
    plain = MemoryTier(policy, 500, **kwargs)  # type: ignore[arg-type]
    sampled = MemoryTier(policy, 500, **kwargs)  # type: ignore[arg-type]
    sampler = ShardsSampler(0.3)
    sampled.sample_keys(sampler)
    if policy == "lru":
        assert sampled.fast_lookup() is not None  # the hit path stays the lock-free one
    assert replay(sampled, stream) == replay(plain, stream)
    a, b = plain.stats(), sampled.stats()
    assert (a.hits, a.misses, a.evictions, a.size) == (b.hits, b.misses, b.evictions, b.size)
    assert sorted(sampled.keys()) == sorted(plain.keys())  # unwrapped
    sampler.drain(b.hits + b.misses)
    assert 0 < sampler._actual < len(stream)  # the sampled keys' lookups were recorded


def test_a_sampled_key_is_peeked_deleted_and_overwritten_like_any_other() -> None:
    tier = MemoryTier("lru", 100)
    sampler = ShardsSampler(1.0)  # every key sampled
    tier.sample_keys(sampler)
    tier.set("a", 1)
    assert tier.peek("a") == 1 and "a" in tier and tier.keys() == ["a"]
    tier.set("a", 2)
    assert len(tier) == 1 and tier.get("a") == 2
    assert tier.delete("a") and tier.peek("a") is MISSING and len(tier) == 0
    # stored before sampling began, set again once sampled: one entry, not two
    tier2 = MemoryTier("lru", 100)
    tier2.set("b", 1)
    tier2.sample_keys(sampler)
    tier2.set("b", 2)
    assert len(tier2) == 1 and tier2.get("b") == 2
    tier2.sample_keys(None)  # stopped: the wrapped entries are still found
    assert tier2.get("b") == 2 and tier2.stats().hits == 2


def test_spatial_hash_is_stable_and_spreads_consecutive_ints() -> None:
    assert spatial_hash(("user", 42)) == spatial_hash(("user", 42))
    low = sum(spatial_hash(i) < (1 << 24) // 10 for i in range(10_000))
    assert 800 < low < 1200  # about a tenth of consecutive ints fall under a tenth


def test_resize_in_place_keeps_the_hit_path_and_evicts_by_policy() -> None:
    tier = MemoryTier("lru", 10)
    data, _ = tier.fast_lookup()  # type: ignore[misc]
    for k in range(10):
        tier.set(k, k)
    tier.get(0)  # 0 is now the most recent
    assert tier.resize(5) == 5
    assert sorted(tier.keys()) == [0, 6, 7, 8, 9] and tier.stats().maxsize == 5
    assert tier.fast_lookup()[0] is data  # type: ignore[index]
    tier.resize(20)
    for k in range(20):
        tier.set(k, k)
    assert len(tier) == 20


def test_the_trees_range_sum_that_stops_where_its_chains_meet_is_the_difference_of_prefixes() -> (
    None
):
    from tui_perf.advice.mrc import _Fenwick

    rng = random.Random(1)
    tree = _Fenwick(500)
    for _ in range(2000):
        tree.add(rng.randrange(500), rng.choice([1, -1, 2]))
    for _ in range(5000):
        lo, hi = sorted((rng.randrange(501), rng.randrange(501)))
        assert tree.between(lo, hi) == tree.prefix(hi) - tree.prefix(lo)
