"""The L1 tier: a cachetools policy with counters for hits, misses, evictions, expirations.

Policies: lru, lfu, fifo, rr, ttl (one TTL for all) and tlru (a TTL per item). `maxsize`
counts entries, or bytes when `getsizeof` is given (for example `sys.getsizeof`).

A `ttl` is honoured by every policy: ttl and tlru expire by themselves; lru, lfu, fifo and rr
given a `ttl` keep a deadline per entry beside the policy, checked on every read (such a tier
has no lock-free hit path). `peek` has no side effects: it neither counts nor touches
recency or frequency, so `in`, `warm()` and the decorator's miss path leave the policy's
order exactly as plain cachetools would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import cachetools

from tui_perf.caches.sampling import KeySampler, spatial_hash
from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import TierStats

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()

#: the first item of a sampled key's stored form, `(_TAG, key)`: a tuple, so hashing and
#: comparing it stay in C; no key of a program's can equal it (the sentinel is private)
_TAG: Any = type("SampledKey", (), {"__repr__": lambda self: "<sampled>"})()


def _tagged(key: Hashable) -> tuple[Any, Hashable]:
    """A key the key-stream sampler follows, as stored in the policy.

    Stored in this form, a sampled key is not found by the hit path's plain dict read: its
    lookups take the slow path, which records them (`tui_perf.advice.mrc`). The other keys'
    hits pay nothing for the sampling.
    """
    return (_TAG, key)


def _is_tagged(stored: object) -> bool:
    return isinstance(stored, tuple) and len(stored) == 2 and stored[0] is _TAG


_POLICIES: dict[str, type[cachetools.Cache[Any, Any]]] = {
    "lru": cachetools.LRUCache,
    "lfu": cachetools.LFUCache,
    "fifo": cachetools.FIFOCache,
    "rr": cachetools.RRCache,
    "ttl": cachetools.TTLCache,
    "tlru": cachetools.TLRUCache,
}


def _counting(base: type[cachetools.Cache[Any, Any]]) -> type[cachetools.Cache[Any, Any]]:
    """A subclass of `base` that counts what it evicts and, for timed caches, what expires."""

    class Counting(base):  # type: ignore[valid-type,misc]
        evictions = 0
        expirations = 0
        _expiring = False

        def popitem(self) -> tuple[Any, Any]:
            for _ in range(1000):
                try:
                    item = super().popitem()
                    break
                except RuntimeError:
                    # LRU's popitem iterates its order while a lock-free hit on another
                    # thread may move a key in it ("OrderedDict mutated during iteration",
                    # raised before anything changed): try again
                    continue
            else:
                item = super().popitem()  # a thousand moves in a row: let it say so
            if not self._expiring:
                self.evictions += 1
            return item  # type: ignore[no-any-return]

    if hasattr(base, "expire"):

        class CountingTimed(Counting):
            def expire(self, time: float | None = None) -> list[tuple[Any, Any]]:
                self._expiring = True
                try:
                    expired = super().expire(time)
                finally:
                    self._expiring = False
                self.expirations += len(expired)
                return expired  # type: ignore[no-any-return]

        Counting = CountingTimed  # type: ignore[misc]

    Counting.__name__ = f"Counting{base.__name__}"
    return Counting


_COUNTING: dict[str, Any] = {name: _counting(cls) for name, cls in _POLICIES.items()}


class MemoryTier:
    """An in-process cache tier. Thread-safe: every operation holds one lock."""

    level = "L1"

    def __init__(
        self,
        policy: str = "lru",
        maxsize: int = 1024,
        *,
        ttl: float | None = None,
        getsizeof: Callable[[Any], int] | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if policy not in _POLICIES:
            raise ConfigError(f"unknown cache policy {policy!r}; one of {', '.join(_POLICIES)}")
        if not isinstance(maxsize, int) or isinstance(maxsize, bool):
            raise ConfigError(f"maxsize must be a whole number, got {maxsize!r}")
        if ttl is not None and (not isinstance(ttl, int | float) or isinstance(ttl, bool)):
            raise ConfigError(f"ttl must be a number of seconds, got {ttl!r}")
        if maxsize < 1:
            raise ConfigError(f"maxsize must be at least 1, got {maxsize}")
        if policy == "ttl" and (ttl is None or ttl <= 0):
            raise ConfigError("the ttl policy needs ttl > 0 seconds")
        if ttl is not None and not ttl > 0:
            raise ConfigError(f"ttl must be above 0 seconds, got {ttl}")
        self.policy = policy
        self.default_ttl = ttl
        self.by_bytes = getsizeof is not None
        self._next_ttl: float | None = None
        cls = _COUNTING[policy]
        self.cache: cachetools.Cache[Any, Any]
        if policy == "ttl":
            self.cache = cls(maxsize, ttl, timer=timer, getsizeof=getsizeof)
        elif policy == "tlru":
            self.cache = cls(maxsize, self._ttu, timer=timer, getsizeof=getsizeof)
        else:
            self.cache = cls(maxsize, getsizeof=getsizeof)
        self.lock = threading.RLock()
        self.hits = self.misses = self.sets = 0
        #: deletes, clears and resizes: with the counts above, a figure that moves whenever
        #: the stats would (`change_count`)
        self.mutations = 0
        self._timer = timer
        # Deadlines per entry for policies that have none of their own (see the docstring).
        self._expires: dict[Hashable, float] | None = (
            {} if ttl is not None and policy in ("lru", "lfu", "fifo", "rr") else None
        )
        self._side_expirations = 0
        # key-stream sampling (`sample_keys`): the sampler, and whether wrapped keys may be
        # stored (they stay after sampling stops, so lookups keep looking for them)
        self.keystream: KeySampler | None = None
        self._tagging = False
        # cachetools keeps values in this dict; reading it touches no recency or frequency.
        self._storage: dict[Any, Any] | None = getattr(self.cache, "_Cache__data", None)
        #: entries expire with time: stats move with no call at all (`change_count`)
        self.time_bound = self._expires is not None or policy in ("ttl", "tlru")
        if self._expires is not None:
            self.get = self._get_expiring  # type: ignore[method-assign]
        self._data: dict[Any, Any] | None = None
        self._touch: Callable[[Any], None] | None = None
        fast = self.fast_lookup()
        if fast is not None:  # lru, fifo, rr: reads need no lock (see fast_lookup)
            self._data, self._touch = fast
            self.get = self._get_unlocked  # type: ignore[method-assign]

    def _ttu(self, key: Any, value: Any, now: float) -> float:
        ttl = self._next_ttl if self._next_ttl is not None else self.default_ttl
        return now + ttl if ttl is not None else float("inf")

    def get(self, key: Hashable) -> Any:
        """The value, or `MISSING`; counts a hit or a miss."""
        with self.lock:
            try:
                value = self.cache[key]
            except KeyError:
                return self.get_after_miss(key)
            self.hits += 1
            return value

    def get_after_miss(self, key: Hashable) -> Any:
        """After the plain key missed: a sampled key's lookup, or a miss. Hold `lock`."""
        if self._tagging:
            try:
                value = self.cache[_tagged(key)]
            except KeyError:
                pass
            else:
                self.hits += 1
                self._record(key)
                return value
        self.misses += 1
        self._record(key)
        return MISSING

    def sampled_hit(self, key: Hashable) -> Any:
        """For a hit path that missed `key`: its value if it is stored as a sampled key
        (counted as a hit and recorded), else `MISSING` (nothing counted). Lock-free where
        `fast_lookup` is (lru, fifo, rr); elsewhere, always `MISSING`."""
        data = self._data
        if data is None or not self._tagging:
            return MISSING
        stored = (_TAG, key)
        try:
            value = data[stored]
        except KeyError:
            return MISSING
        touch = self._touch
        if touch is not None:
            try:  # noqa: SIM105 - as on the hit path
                touch(stored)
            except KeyError:
                pass
        self.hits += 1
        if not self._record(key) and self.policy == "lru":
            # no longer sampled (the rate went down): stored plain again, so its hits take
            # the fast path; an LRU hit moves it to the front anyway. FIFO and RR entries
            # are left to age out, which keeps their order exact.
            with self.lock:
                if stored in self.cache:
                    del self.cache[stored]
                    self.cache[key] = value
        return value

    def _record(self, key: Hashable) -> bool:
        """Record a lookup of `key` if it is sampled; returns whether it is."""
        sampler = self.keystream
        if sampler is None:
            return False
        try:
            h = spatial_hash(key)
        except TypeError:  # unhashable: the lookup itself will say so
            return False
        if h < sampler.threshold:
            sampler.add(h, self._timer(), self.hits + self.misses)
            return True
        return False

    def _get_unlocked(self, key: Hashable) -> Any:
        try:
            value = self._data[key]  # type: ignore[index]  # bound only when _data is set
        except KeyError:
            with self.lock:
                return self.get_after_miss(key)
        touch = self._touch
        if touch is not None:
            try:  # noqa: SIM105 - a frame less on every hit
                touch(key)
            except KeyError:  # evicted by another thread between the two reads
                pass
        self.hits += 1
        return value

    def _get_expiring(self, key: Hashable) -> Any:
        with self.lock:  # re-entrant: `get` takes it again
            if self._expired(key):
                self.misses += 1
                self._record(key)
                return MISSING
            return MemoryTier.get(self, key)

    def _expired(self, key: Hashable) -> bool:
        """True (and the entry dropped) when `key` has a deadline that has passed."""
        expires = self._expires
        if not expires:
            return False
        deadline = expires.get(key)
        if deadline is None or deadline > self._timer():
            return False
        del expires[key]
        stored = self._stored(key)
        if stored is not None:
            del self.cache[stored]
            self._side_expirations += 1
        return True

    def _stored(self, key: Hashable) -> Hashable | None:
        """The form `key` is stored under (itself, or wrapped when sampled), or None.
        `in` on a cachetools cache is expiry-aware and touches nothing."""
        if key in self.cache:
            return key
        if self._tagging:
            tagged = _tagged(key)
            if tagged in self.cache:
                return tagged
        return None

    def peek(self, key: Hashable) -> Any:
        """The value or `MISSING`: counts nothing, touches no recency or frequency."""
        with self.lock:
            stored = None if self._expired(key) else self._stored(key)
            if stored is None:
                return MISSING
            if self._storage is not None:
                return self._storage[stored]
            return self.cache[stored]  # a cachetools without the storage dict: may touch

    @property
    def per_item_ttl(self) -> bool:
        """Whether `set(..., ttl=)` works here: tlru, or any tier created with a ttl."""
        return self.policy == "tlru" or self._expires is not None

    def set(self, key: Hashable, value: Any, ttl: float | None = None) -> None:
        """Store `value`; a per-item `ttl` needs `per_item_ttl`. Too big for the tier: skipped."""
        if ttl is not None and not self.per_item_ttl:
            raise ConfigError("a TTL per item needs policy='tlru' or a tier created with a ttl")
        with self.lock:
            stored = key
            if self._tagging:
                stored = self._store_as(key)
                other = key if stored is not key else _tagged(key)
                if other in self.cache:  # sampled since it was stored, or no longer
                    del self.cache[other]
            self._next_ttl = ttl
            try:
                self.cache[stored] = value
            except ValueError:  # larger than the whole tier: not cached, not an error
                return
            finally:
                self._next_ttl = None
            expires = self._expires
            if expires is not None:
                life = ttl if ttl is not None else self.default_ttl
                assert life is not None
                expires[key] = self._timer() + life
                if len(expires) > 2 * len(self.cache) + 64:  # forget what the policy evicted
                    for gone in [k for k in expires if self._stored(k) is None]:
                        del expires[gone]
            self.sets += 1

    def _store_as(self, key: Hashable) -> Hashable:
        sampler = self.keystream
        if sampler is not None and spatial_hash(key) < sampler.threshold:
            return _tagged(key)
        return key

    def resize(self, maxsize: int) -> int:
        """Change `maxsize` in place (the hit path keeps reading the same storage);
        shrinking evicts by the policy. Returns how many entries were evicted."""
        if maxsize < 1:
            raise ConfigError(f"maxsize must be at least 1, got {maxsize}")
        with self.lock:
            c = self.cache
            if not hasattr(c, "_Cache__maxsize"):
                raise ConfigError("this cachetools version cannot be resized in place")
            c._Cache__maxsize = maxsize
            self.mutations += 1
            evicted = 0
            while c.currsize > maxsize:
                c.popitem()
                evicted += 1
            return evicted

    def set_ttl(self, ttl: float) -> None:
        """Change the TTL of entries stored from now on (those stored keep theirs)."""
        if not ttl > 0:
            raise ConfigError(f"ttl must be above 0 seconds, got {ttl}")
        with self.lock:
            if self.policy == "ttl":
                if not hasattr(self.cache, "_TTLCache__ttl"):
                    raise ConfigError("this cachetools version cannot change a TTL in place")
                self.cache._TTLCache__ttl = ttl
            elif self.default_ttl is None:
                raise ConfigError("this cache has no TTL to change")
            self.default_ttl = ttl

    def sample_keys(self, sampler: KeySampler | None) -> None:
        """Follow this tier's key stream with `sampler` (None stops). Lookups of sampled
        keys take the slow path and are recorded there; other keys' hits are untouched."""
        if sampler is not None and self._storage is None:
            raise ConfigError("this cachetools version hides its storage: keys not sampled")
        with self.lock:
            self.keystream = sampler
            if sampler is not None:
                self._tagging = True

    def delete(self, key: Hashable) -> bool:
        with self.lock:
            if self._expires:
                self._expires.pop(key, None)
            stored = self._stored(key)
            if stored is None:
                return False
            del self.cache[stored]
            self.mutations += 1
            return True

    def keys(self) -> list[Any]:
        with self.lock:
            keys = list(self.cache.keys())
        if self._tagging:
            return [k[1] if _is_tagged(k) else k for k in keys]
        return keys

    def __contains__(self, key: Hashable) -> bool:
        return self.peek(key) is not MISSING

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.cache)

    def clear(self) -> int:
        """Drop everything; returns how many entries were dropped."""
        with self.lock:
            n = len(self.cache)
            self.cache.clear()
            self.mutations += 1
            if self._expires:
                self._expires.clear()
            return n

    def change_count(self) -> int | None:
        """A number that grows whenever `stats()` would read differently (lookups, sets,
        deletes, clears, resizes); None for tiers whose entries expire with time, whose
        stats change with no call at all."""
        if self.time_bound:
            return None
        return self.hits + self.misses + self.sets + self.mutations

    def stats(self) -> TierStats:
        c = self.cache
        with self.lock:
            expire = getattr(c, "expire", None)
            if expire is not None:
                expire()  # count what has expired by now, not at the next write
            return TierStats(
                level=self.level,
                kind=self.policy,
                hits=self.hits,
                misses=self.misses,
                sets=self.sets,
                evictions=c.evictions,  # type: ignore[attr-defined]
                expirations=c.expirations + self._side_expirations,  # type: ignore[attr-defined]
                size=len(c),
                maxsize=int(c.maxsize),
                bytes=int(c.currsize) if self.by_bytes else None,
            )

    def fast_lookup(self) -> tuple[dict[Any, Any], Callable[[Any], None] | None] | None:
        """The storage dict and recency hook for a lock-free hit path, where safe.

        cachetools keeps its entries in a plain dict and LRU order in an OrderedDict, both
        name-mangled. For lru, fifo and rr a hit is a dict read (plus move_to_end for lru),
        each one atomic under the GIL, so `cached` can skip two Python frames and the lock
        per hit. Other policies (lfu counts, ttl checks time) return None: use `get`. If a
        cachetools release renames these, this returns None and the public path is used.
        """
        if self.policy not in ("lru", "fifo", "rr") or self._expires is not None:
            return None
        data = getattr(self.cache, "_Cache__data", None)
        if not isinstance(data, dict):
            return None
        if self.policy != "lru":
            return data, None
        order = getattr(self.cache, "_LRUCache__order", None)
        if order is None or not hasattr(order, "move_to_end"):
            return None
        return data, order.move_to_end
