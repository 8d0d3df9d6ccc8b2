"""Miss-ratio curves from a cache's own key stream, by spatial sampling (SHARDS).

Waldspurger et al., "Efficient MRC Construction with SHARDS" (FAST 2015): hash each key and
keep the references whose hash falls under a threshold, so a sampled key is seen at every
one of its references. Reuse distances measured among the sampled keys, divided by the
sampling rate R, estimate the distances in the full stream; each sampled reference stands for
1/R references. The fixed-size variant bounds memory: past `max_keys` tracked keys the
threshold drops to the largest tracked hash and the keys at or above it are forgotten.
SHARDS_adj adds the difference between the expected and the actual number of sampled
references to the smallest distance, which corrects most of the bias of a small sample.

The hit rate of an LRU cache of size S is the share of references whose reuse distance
(distinct keys since the key's last reference) is below S. Other policies (LFU, FIFO, RR,
TTL) have no reuse-distance model, so they are simulated: the sampled stream replayed through
a cachetools cache of size S x R ("miniature simulation", Waldspurger et al., ATC 2017).

`offer(key)` is the only call on the cache's lookup path: a hash, a compare, and for the
sampled few an append. `drain()` does the rest, off that path.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import cachetools

from tui_perf.caches.sampling import _MASK, _MIX, MODULUS

_GROWTH = math.log(1.02)  # histogram bins 2% wide: exact enough, a few hundred bins
_MIN_SLOTS = 64  # the tree's first size, and its smallest after a compaction
_MIN_STREAM = 250  # `shrink` keeps at least this much stream (a simulation needs 200)
_MIN_THRESHOLD = MODULUS // 1024  # and samples at least 0.1% of keys

#: what a sampler's parts cost, for `nbytes` (CPython 3.11, 64-bit; tracemalloc on a
#: sampler fed a Zipf stream, rounded up; tests/test_sampler_budget.py holds the estimate
#: within a factor of the measured): a tree slot (the list's pointer, an int now and then),
#: a tracked key (its dict entry, its heap entry, their ints), a kept reference (the tuple,
#: its float and ints, the deque's slot), a histogram bin
SLOT_BYTES = 12
KEY_BYTES = 170
REFERENCE_BYTES = 155
BIN_BYTES = 110

POLICIES = ("lru", "lfu", "fifo", "rr", "ttl")


def rate_for(size: int, keys: int = 2048) -> float:
    """A sampling rate that sees about `keys` distinct keys in a cache 8x `size` (the 16x
    point, predicted for the tuner, rests on half as many): small caches are sampled
    densely, large ones sparsely."""
    return min(1.0, keys / (8 * max(1, size)))


@dataclass(frozen=True, slots=True)
class CurvePoint:
    size: int
    hit_rate: float


@dataclass(frozen=True, slots=True)
class Curve:
    """Predicted LRU hit rates by size, and what they rest on."""

    points: tuple[CurvePoint, ...]
    references: int  # lookups seen
    sampled: int  # references sampled
    rate: float  # the sampling rate now

    def at(self, size: int) -> float:
        for p in self.points:
            if p.size == size:
                return p.hit_rate
        raise KeyError(size)


class _Fenwick:
    """Prefix sums over reference times: 1 at each tracked key's last reference."""

    __slots__ = ("tree",)

    def __init__(self, size: int) -> None:
        self.tree = [0] * (size + 1)

    def add(self, i: int, v: int) -> None:
        tree, n = self.tree, len(self.tree)
        i += 1
        while i < n:
            tree[i] += v
            i += i & -i

    def between(self, lo: int, hi: int) -> int:
        """The sum over times [lo, hi): prefix(hi) - prefix(lo), walking the two chains of
        the tree only until they meet (near times meet soon)."""
        tree, s = self.tree, 0
        while hi != lo:
            if hi > lo:
                s += tree[hi]
                hi -= hi & -hi
            else:
                s -= tree[lo]
                lo -= lo & -lo
        return s

    def prefix(self, i: int) -> int:
        """The sum over times [0, i)."""
        tree, s = self.tree, 0
        while i > 0:
            s += tree[i]
            i -= i & -i
        return s


class ShardsSampler:
    """One cache's key stream, sampled: a reuse-distance histogram and a replayable stream.

    Memory: at most `max_keys` tracked keys (a dict entry, a heap entry and a tree slot or
    four each), `max_stream` sampled references kept for the policy simulations, and the
    histogram's bins (a few hundred). Not thread-safe by itself: `offer` may race with
    itself harmlessly (a lost count), `drain` must run on one thread at a time.
    """

    __slots__ = (
        "_actual",
        "_bins",
        "_cold",
        "_drained_seen",
        "_fenwick",
        "_heap",
        "_last",
        "_now",
        "_weight",
        "adjust",
        "buffer",
        "max_batch",
        "max_keys",
        "max_stream",
        "pending",
        "seen",
        "stream",
        "threshold",
    )

    def __init__(
        self,
        rate: float = 0.01,
        *,
        max_keys: int = 8192,
        max_stream: int = 20_000,
        max_batch: int = 20_000,
        adjust: bool = True,
        pending: set[ShardsSampler] | None = None,
    ) -> None:
        if not 0 < rate <= 1:
            raise ValueError(f"rate must be in (0, 1], got {rate}")
        self.threshold = max(1, int(rate * MODULUS))
        self.max_keys = max_keys
        self.max_stream = max_stream
        self.max_batch = max_batch
        self.adjust = adjust
        #: where this sampler puts itself when its buffer stops being empty, so that a
        #: drain visits only the samplers that have something (None: nobody asks)
        self.pending = pending
        self.seen = 0  # every reference offered
        #: sampled, not yet drained: (hash, time, references seen then)
        self.buffer: list[tuple[int, float, int]] = []
        self._drained_seen = 0
        self._actual = 0  # references sampled
        self._weight = 0.0  # the references they stand for: each 1 / the rate at the time
        self._last: dict[int, int] = {}  # hash -> time of its last reference
        self._heap: list[int] = []  # -hash of tracked keys: the largest is dropped first
        self._now = 0
        # Made at the first sampled reference and grown with the keys tracked (up to
        # 4 x max_keys slots): a sampler of a cache nobody asks holds nothing. It was
        # 4 x max_keys from the start, 270 KB a cache whatever its size (issue #32).
        self._fenwick: _Fenwick | None = None
        self._bins: dict[int, float] = {}  # distance bin -> weighted references
        self._cold = 0.0  # weighted first references
        #: sampled references kept for the simulations: (hash, time, references seen
        #: then); made at the first one
        self.stream: deque[tuple[int, float, int]] | None = None

    @property
    def rate(self) -> float:
        return self.threshold / MODULUS

    @property
    def references_sampled(self) -> int:
        return self._actual

    # -- the lookup path -----------------------------------------------------------------

    def offer(self, key: Hashable, now: float = 0.0) -> None:
        self.seen += 1
        h = ((hash(key) * _MIX) & _MASK) >> 40
        if h < self.threshold:
            self.add(h, now, self.seen)

    def add(self, h: int, now: float, seen: int) -> None:
        """A sampled lookup, already filtered by its spot `h` (what a `MemoryTier` calls
        from its slow path); `seen` is the tier's lookup count then."""
        self.seen = seen
        buffer = self.buffer
        if not buffer and self.pending is not None:
            self.pending.add(self)
        buffer.append((h, now, seen))

    # -- off the lookup path ---------------------------------------------------------------

    def drain(self, seen: int | None = None) -> None:
        """Process the sampled references offered since the last drain; `seen` is the
        lookups made in all, when someone else counts them (a tier does)."""
        if seen is not None:
            self.seen = max(self.seen, seen)
        buffer, self.buffer = self.buffer, []
        self._drained_seen = self.seen
        if len(buffer) > self.max_batch:
            # more sampled lookups than a drain should process: sample fewer keys from
            # now on (the batch is filtered to the new rate, so it stays consistent)
            self.threshold = max(1, self.threshold * self.max_batch // len(buffer))
            self._prune()
        stream = self.stream
        for entry in buffer:
            if entry[0] < self.threshold:  # the threshold may have dropped since then
                self._reference(entry[0])
                if stream is None:
                    stream = self.stream = deque(maxlen=self.max_stream)
                stream.append(entry)

    def _reference(self, h: int) -> None:
        fenwick = self._fenwick
        if fenwick is None:
            fenwick = self._fenwick = _Fenwick(min(_MIN_SLOTS, 4 * self.max_keys))
        self._actual += 1
        rate = self.threshold / MODULUS
        weight = 1.0 / rate
        self._weight += weight
        t = self._last.get(h)
        if t is None:
            self._cold += weight
            heapq.heappush(self._heap, -h)
        else:
            distance = fenwick.between(t + 1, self._now) / rate
            b = _bin(distance)
            self._bins[b] = self._bins.get(b, 0.0) + weight
            fenwick.add(t, -1)
        fenwick.add(self._now, 1)
        self._last[h] = self._now
        self._now += 1
        if len(self._last) > self.max_keys:
            self._lower_threshold()
        if self._now >= len(fenwick.tree) - 1:
            self._compact()

    def lower_rate(self, rate: float) -> None:
        """Sample fewer keys from now on (never more: a key sampled late would look cold)."""
        threshold = max(1, int(rate * MODULUS))
        if threshold < self.threshold:
            self.threshold = threshold
            self._prune()

    def _lower_threshold(self) -> None:
        """Fixed-size SHARDS: drop the keys with the largest hashes, the threshold with them."""
        while len(self._last) > self.max_keys and self._heap:
            self.threshold = -self._heap[0]
            self._prune()

    def _prune(self) -> None:
        """Forget the tracked keys at or above the threshold, and their kept references."""
        while self._heap and -self._heap[0] >= self.threshold:
            h = -heapq.heappop(self._heap)
            t = self._last.pop(h, None)
            if t is not None and self._fenwick is not None:
                self._fenwick.add(t, -1)

    def _compact(self) -> None:
        """Renumber the tracked keys' times 0..k-1 in order, into a tree of 4 slots a
        tracked key (within [_MIN_SLOTS, 4 x max_keys]): bounded, and sized by the keys
        the cache's stream really has. Order is all a distance reads, so none changes."""
        order = sorted(self._last.items(), key=lambda item: item[1])
        slots = min(4 * self.max_keys, max(_MIN_SLOTS, 4 * len(order)))
        self._fenwick = fenwick = _Fenwick(slots)
        for i, (h, _t) in enumerate(order):
            self._last[h] = i
            fenwick.add(i, 1)
        self._now = len(order)

    # -- memory ----------------------------------------------------------------------------

    def nbytes(self) -> int:
        """An estimate of what this sampler holds, from its lengths and the per-item costs
        below (0 before its first sampled reference)."""
        slots = len(self._fenwick.tree) if self._fenwick is not None else 0
        stream = len(self.stream) if self.stream is not None else 0
        return (
            slots * SLOT_BYTES
            + len(self._last) * KEY_BYTES
            + (stream + len(self.buffer)) * REFERENCE_BYTES
            + len(self._bins) * BIN_BYTES
        )

    def shrink(self) -> bool:
        """Hold about half: half the kept stream (the newest half stays) and half the
        sampling rate (the keys above it forgotten). False when at the floor already."""
        changed = False
        kept = min(self.max_stream, len(self.stream) if self.stream is not None else 0)
        if kept > _MIN_STREAM:
            self.max_stream = max(_MIN_STREAM, kept // 2)
            self.stream = deque(self.stream or (), maxlen=self.max_stream)
            changed = True
        if self.threshold > _MIN_THRESHOLD:
            self.lower_rate(max(_MIN_THRESHOLD, self.threshold // 2) / MODULUS)
            changed = True
        if changed and self._fenwick is not None and len(self._last) * 8 < len(self._fenwick.tree):
            self._compact()  # most of the tree's slots were for keys now forgotten
        return changed

    # -- predictions -----------------------------------------------------------------------

    def hit_rate(self, size: int) -> float | None:
        """The predicted hit rate of an LRU cache of `size` entries; None before any data."""
        return self._hit_rates((size,))[0]

    def _hit_rates(self, sizes: tuple[int, ...]) -> list[float | None]:
        """`hit_rate` at each size, the bins' edges worked out once for all of them."""
        total = sum(self._bins.values()) + self._cold
        adj = self._adjustment()
        total += adj
        if total <= 0:
            return [None] * len(sizes)
        bins = [(*_edges(b), weight) for b, weight in self._bins.items()]
        out: list[float | None] = []
        for size in sizes:
            hits = adj if size > 0 else 0.0  # SHARDS_adj: the difference goes to distance 0
            for lo, hi, weight in bins:
                if hi <= size:
                    hits += weight
                elif lo < size:  # a bin across the size: spread evenly inside it
                    hits += weight * (size - lo) / (hi - lo)
            out.append(min(1.0, max(0.0, hits / total)))
        return out

    def _adjustment(self) -> float:
        """SHARDS_adj, for a rate that changes: the references seen minus those the sample
        stands for (a hot key that happens to be sampled, or not, moves this most)."""
        if not self.adjust:
            return 0.0
        return self._drained_seen - self._weight

    def curve(self, size: int, factors: tuple[float, ...] = (0.25, 0.5, 1, 2, 4, 8)) -> Curve:
        sizes = tuple(max(1, round(size * f)) for f in factors)
        points = [
            CurvePoint(s, rate)
            for s, rate in zip(sizes, self._hit_rates(sizes), strict=True)
            if rate is not None
        ]
        return Curve(tuple(points), self.seen, self._actual, self.rate)

    def simulate(self, policy: str, size: int, ttl: float | None = None) -> float | None:
        """The hit rate of `policy` at `size`: the kept stream replayed through a cachetools
        cache of `size` x rate entries, its first fifth only warming the cache, with the
        same adjustment as the curve. None with too little stream."""
        threshold = self.threshold  # kept references of keys since dropped are skipped
        stream = [entry for entry in self.stream or () if entry[0] < threshold]
        if len(stream) < 200:
            return None
        rate = self.rate
        scaled = max(1, round(size * rate))
        now = [0.0]
        cache: cachetools.Cache[int, bool] = _policy_cache(policy, scaled, ttl, lambda: now[0])
        warm = len(stream) // 5
        hits = 0
        for i, (h, t, _seen) in enumerate(stream):
            now[0] = t
            if cache.get(h) is not None:
                hits += i >= warm
            else:
                cache[h] = True
        counted = len(stream) - warm
        seen = stream[-1][2] - stream[warm - 1][2]  # references the counted part spans
        if not self.adjust or seen <= 0:
            return hits / counted
        adj = seen - counted / rate
        return min(1.0, max(0.0, (hits / rate + adj) / seen))


def _policy_cache(
    policy: str, size: int, ttl: float | None, timer: Any
) -> cachetools.Cache[int, bool]:
    if policy == "lru":
        return cachetools.LRUCache(size)
    if policy == "lfu":
        return cachetools.LFUCache(size)
    if policy == "fifo":
        return cachetools.FIFOCache(size)
    if policy == "rr":
        return cachetools.RRCache(size)
    if policy == "ttl":
        if ttl is None or ttl <= 0:
            raise ValueError("the ttl policy needs ttl > 0")
        return cachetools.TTLCache(size, ttl, timer=timer)
    raise ValueError(f"unknown policy {policy!r}; one of {', '.join(POLICIES)}")


def _bin(distance: float) -> int:
    if distance < 1:
        return 0
    return 1 + int(math.log(distance) / _GROWTH)


def _edges(b: int) -> tuple[float, float]:
    """Bin 0 holds distance 0 (hit in any cache of one or more entries)."""
    if b == 0:
        return 0.0, 1.0
    return math.exp((b - 1) * _GROWTH), math.exp(b * _GROWTH)
