"""`KeyStreams`: a SHARDS sampler on every registered cache's memory tier, drained at each
tick, and the curves they give (`CurveStat`), refreshed every few seconds.

Sampling costs nothing on the hit path of the keys not sampled (see `MemoryTier`); draining
runs on the engine's thread, bounded per drain by the sampler's `max_batch`.
"""

from __future__ import annotations

import math
import sys
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from tui_perf.advice.mrc import POLICIES, ShardsSampler, rate_for
from tui_perf.advice.sampler_budget import DEFAULT_BUDGET, Holder, SamplerBudget
from tui_perf.caches.memory_tier import MemoryTier
from tui_perf.model.advice import CurveStat, SamplerMemory

#: sizes the curve is predicted at, as factors of the current one; 16x lets the tuner size a
#: cache found at a tenth of its working set in one step (8x left it short at 95% of the
#: reachable hit rate in the tune benchmark)
FACTORS = (0.25, 0.5, 1, 2, 4, 8, 16)
TTL_FACTORS = (1, 2, 4, 8)


#: what one sampled lookup costs the program beyond a plain hit: the hit path misses,
#: `MemoryTier.sampled_hit` finds the key and records it (measured by
#: benchmarks/bench_advice.py on CPython 3.11; rounded up)
SAMPLED_LOOKUP_S = 1.0e-6


class KeyStreams:
    """`max_cost`: the share of a core the sampled lookups may cost the program, estimated
    from each cache's lookups since the last drain; past it a cache's rate goes down. A busy
    cache is sampled thinly, a quiet one densely (up to `rate_for` its size).

    Memory: each sampler tracks keys in proportion to its cache's size and rate
    (`keys_for`) and holds nothing before its first sampled lookup; all of them together
    stay under `budget_bytes` (`SamplerBudget`: the largest shrink, then the quietest are
    dropped). A drain visits only the samplers that sampled something since the last
    (they enlist themselves in `pending`); curves are refreshed for at most
    `curves_per_refresh` caches a call, those with the most new samples first.
    """

    def __init__(
        self,
        *,
        refresh_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 8192,
        max_stream: int = 20_000,
        max_cost: float = 0.005,
        budget_bytes: int = DEFAULT_BUDGET,
        curves_per_refresh: int = 16,
    ) -> None:
        self.refresh_s = refresh_s
        self.clock = clock
        self.max_keys = max_keys
        self.max_stream = max_stream
        self.max_cost = max_cost
        self.curves_per_refresh = curves_per_refresh
        self.budget = SamplerBudget(budget_bytes)
        #: id(tier) -> (weak tier, sampler, cache name)
        self._followed: dict[int, tuple[weakref.ref[MemoryTier], ShardsSampler, str]] = {}
        self._tier_of: dict[int, int] = {}  # id(sampler) -> id(tier)
        #: samplers with sampled lookups not drained yet (they add themselves)
        self._pending: set[ShardsSampler] = set()
        #: id(tier) -> (lookups, time) at the last drain
        self._last: dict[int, tuple[int, float]] = {}
        self._curves: dict[str, CurveStat] = {}
        #: id(tier) -> references sampled when its curve was made
        self._curved: dict[int, int] = {}
        self._refreshed_at = float("-inf")
        #: tiers drained since their curve was made: the only candidates for a new one
        self._uncurved: set[int] = set()

    def follow(self, caches: Iterable[Any]) -> None:
        """Attach a sampler to each cache's memory tier not followed yet; forget dead ones.
        A tier whose sampler the budget dropped is not sampled again."""
        live = set()
        for cache in caches:
            tier = getattr(cache, "l1", None)
            if not isinstance(tier, MemoryTier):
                continue
            live.add(id(tier))
            if id(tier) in self._followed or self.budget.was_dropped(id(tier)):
                continue
            maxsize = int(tier.cache.maxsize) if not tier.by_bytes else len(tier) or 1024
            rate = rate_for(maxsize)
            sampler = ShardsSampler(
                rate,
                max_keys=keys_for(maxsize, rate, self.max_keys),
                max_stream=self.max_stream,
                pending=self._pending,
            )
            try:
                tier.sample_keys(sampler)
            except Exception:
                continue  # a tier that cannot be sampled is judged without a curve
            self._followed[id(tier)] = (weakref.ref(tier), sampler, cache.name)
            self._tier_of[id(sampler)] = id(tier)
        for key in [k for k in self._followed if k not in live]:
            self._forget(key)
        self.budget.forget_except(live)

    def _forget(self, key: int) -> None:
        ref, sampler, name = self._followed.pop(key)
        self._tier_of.pop(id(sampler), None)
        self._pending.discard(sampler)
        self._last.pop(key, None)
        self._curved.pop(key, None)
        self._uncurved.discard(key)
        self._curves.pop(name, None)
        self.budget.release(key)
        tier = ref()
        if tier is not None:
            tier.sample_keys(None)

    def stop(self) -> None:
        for ref, _, _ in self._followed.values():
            tier = ref()
            if tier is not None:
                tier.sample_keys(None)
        self._followed.clear()
        self._tier_of.clear()
        self._pending.clear()

    def drain(self) -> None:
        """Drain the samplers that sampled something since the last drain, then hold them
        all to the budget."""
        now = self.clock()
        for _ in range(len(self._pending)):
            try:
                sampler = self._pending.pop()
            except KeyError:  # emptied meanwhile
                break
            key = self._tier_of.get(id(sampler))
            entry = self._followed.get(key) if key is not None else None
            tier = entry[0]() if entry is not None else None
            if key is None or tier is None:
                continue
            lookups = tier.hits + tier.misses
            before = self._last.get(key)
            self._last[key] = (lookups, now)
            if before is not None and now > before[1]:
                per_s = (lookups - before[0]) / (now - before[1])
                cost = per_s * sampler.rate * SAMPLED_LOOKUP_S
                if cost > self.max_cost:
                    sampler.lower_rate(sampler.rate * self.max_cost / cost)
            sampler.drain(lookups)
            self._uncurved.add(key)
            self.budget.update(key, sampler.nbytes())
        if self.budget.over():
            for key in self.budget.enforce(self._holders()):
                self._forget(key)

    def _holders(self) -> list[Holder]:
        """The samplers holding memory, with how busy each is (lookups a second)."""
        out = []
        for key, (_ref, sampler, _name) in self._followed.items():
            last = self._last.get(key)
            out.append(Holder(key, sampler, last[0] if last else 0))
        return out

    def curves(self, force: bool = False) -> dict[str, CurveStat]:
        """The curves, after a `refresh` when one is due (`force`: every cache sampled
        since its curve was made, at once)."""
        self.refresh(force)
        return dict(self._curves)

    def current(self) -> dict[str, CurveStat]:
        """The curves as last made, nothing made now."""
        return dict(self._curves)

    def refresh(self, force: bool = False) -> None:
        """Every `refresh_s`, make the curves again for up to `curves_per_refresh` of the
        caches that sampled something since their curve was made, those with the most new
        samples first; the others keep the curve they had."""
        now = self.clock()
        if not force and now - self._refreshed_at < self.refresh_s:
            return
        self._refreshed_at = now
        stale = []
        for key in list(self._uncurved):
            entry = self._followed.get(key)
            if entry is None:
                self._uncurved.discard(key)
                continue
            made = self._curved.get(key, 0)
            stale.append((entry[1].references_sampled - made, key, entry))
        stale.sort(key=lambda item: -item[0])
        if not force:
            del stale[self.curves_per_refresh :]
        for _new, key, (ref, sampler, name) in stale:
            self._uncurved.discard(key)
            tier = ref()
            if tier is None:
                continue
            curve = curve_of(name, tier, sampler)
            self._curved[key] = sampler.references_sampled
            if curve is not None:
                self._curves[name] = curve

    def memory(self) -> SamplerMemory:
        return self.budget.report(len(self._followed))


def keys_for(size: int, rate: float, most: int) -> int:
    """Keys a cache's sampler tracks: enough for reuse distances up to 32x its size at its
    rate (the curve's last point is 16x), within [256, `most`]."""
    return max(256, min(most, math.ceil(32 * size * rate)))


def curve_of(name: str, tier: MemoryTier, sampler: ShardsSampler) -> CurveStat | None:
    size = int(tier.cache.maxsize)
    if tier.by_bytes:
        return None  # sizes in bytes: the curve is in entries; not predicted
    curve = sampler.curve(size, FACTORS)
    if not curve.points:
        return None
    policies = []
    for policy in POLICIES:
        if policy == "ttl" and not tier.default_ttl:
            continue
        rate = sampler.simulate(policy, size, tier.default_ttl)
        if rate is not None:
            policies.append((policy, rate))
    longer: list[tuple[float, float]] = []
    if tier.default_ttl:
        for f in TTL_FACTORS:
            rate = sampler.simulate("ttl", size, tier.default_ttl * f)
            if rate is not None:
                longer.append((tier.default_ttl * f, rate))
    return CurveStat(
        cache=name,
        current_size=size,
        points=tuple((p.size, p.hit_rate) for p in curve.points),
        policies=tuple(policies),
        references=curve.references,
        sampled=curve.sampled,
        rate=curve.rate,
        bytes_per_entry=bytes_per_entry(tier),
        ttl_s=tier.default_ttl,
        longer_ttl=tuple(longer),
    )


#: a cachetools entry beyond its key and value: the data dict's slot and, for LRU, the
#: order dict's node (measured on CPython 3.11 with tracemalloc, rounded up)
ENTRY_OVERHEAD = 200


def bytes_per_entry(tier: MemoryTier, sample: int = 32) -> int | None:
    """Measured on up to `sample` entries: the key's and the value's sizes (one level into
    containers) plus the tier's per-entry overhead."""
    storage = tier._storage
    if not storage:
        return None
    total = n = 0
    try:
        for key, value in list(storage.items())[:sample]:
            total += _size(key) + _size(value)
            n += 1
    except RuntimeError:  # changed while read: next time
        return None
    return total // n + ENTRY_OVERHEAD if n else None


def _size(obj: object) -> int:
    size = sys.getsizeof(obj)
    if isinstance(obj, (tuple, list, set, frozenset)):
        size += sum(sys.getsizeof(x) for x in obj)
    elif isinstance(obj, dict):
        size += sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in obj.items())
    return size
