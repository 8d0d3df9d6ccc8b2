"""A weak registry of live caches and pools, the way a metrics registry works.

Caches and pools register themselves on creation; the engine reads their stats each tick and
the memory guard's ladder reclaims from them. The registry holds only weak references, so
registering never keeps an object alive: a cache the program dropped leaves by itself.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

from tui_perf.model.snapshot import CacheStats, PoolStats

log = logging.getLogger(__name__)


# Besides these, a member may have `stats_key()`: a value equal from one call to the next
# only while `stats()` would be equal, or None (read every time); the registry then reads
# `stats()` only when it moved. Without one (it is looked up each tick, so a member that
# has none pays an AttributeError), `stats()` is read at every tick.


@runtime_checkable
class RegisteredCache(Protocol):
    name: str
    pinned: bool

    def stats(self) -> CacheStats: ...

    def flush_memory(self) -> int:
        """Drop what the memory tiers hold; return how many entries were dropped."""
        ...


@runtime_checkable
class RegisteredPool(Protocol):
    name: str

    def stats(self) -> PoolStats: ...

    def drain(self) -> int:
        """Free idle objects (never ones checked out); return how many were freed."""
        ...


class Registry:
    """Weak sets of caches and pools, safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._caches: weakref.WeakSet[RegisteredCache] = weakref.WeakSet()
        self._pools: weakref.WeakSet[RegisteredPool] = weakref.WeakSet()
        # What each tick reads, as lists of weak references made again only when a member
        # joins or leaves: iterating a WeakSet costs a generator and a guard per read.
        self._cache_refs: list[weakref.ref[RegisteredCache]] | None = None
        self._pool_refs: list[weakref.ref[RegisteredPool]] | None = None
        #: goes up when a member registers or unregisters (not when one is collected)
        self.version = 0
        # id(member) -> (its stats_key, the stats read then): a member whose key has not
        # moved since keeps the same frozen stats object, read again only when it moves
        # (`stats()` of every cache at every tick was 64% of a tick at 1,000 caches)
        self._cache_memo: dict[int, tuple[Any, CacheStats]] = {}
        self._pool_memo: dict[int, tuple[Any, PoolStats]] = {}

    def register_cache(self, cache: RegisteredCache) -> None:
        with self._lock:
            self._caches.add(cache)
            self._cache_refs = None
            self._cache_memo.pop(id(cache), None)  # a new member where a dead one was
            self.version += 1

    def register_pool(self, pool: RegisteredPool) -> None:
        with self._lock:
            self._pools.add(pool)
            self._pool_refs = None
            self._pool_memo.pop(id(pool), None)
            self.version += 1

    def unregister(self, obj: object) -> None:
        with self._lock:
            self._caches.discard(obj)  # type: ignore[arg-type]
            self._pools.discard(obj)  # type: ignore[arg-type]
            self._cache_refs = self._pool_refs = None
            self._cache_memo.pop(id(obj), None)
            self._pool_memo.pop(id(obj), None)
            self.version += 1

    def caches(self) -> list[RegisteredCache]:
        """Live caches, sorted by name so that every view lists them in one order."""
        refs = self._cache_refs
        if refs is None:
            with self._lock:
                refs = self._cache_refs = _sorted_refs(self._caches)
        return [c for r in refs if (c := r()) is not None]  # a dropped cache has left

    def pools(self) -> list[RegisteredPool]:
        refs = self._pool_refs
        if refs is None:
            with self._lock:
                refs = self._pool_refs = _sorted_refs(self._pools)
        return [p for r in refs if (p := r()) is not None]

    def cache_stats(self) -> tuple[CacheStats, ...]:
        return _read_stats(self.caches(), self._cache_memo)

    def pool_stats(self) -> tuple[PoolStats, ...]:
        return _read_stats(self.pools(), self._pool_memo)


S = TypeVar("S", CacheStats, PoolStats)
M = TypeVar("M", RegisteredCache, RegisteredPool)


def _sorted_refs(members: weakref.WeakSet[M]) -> list[weakref.ref[M]]:
    """Sorted by name once, when the members change, so that every view lists them in one
    order without a sort at every tick."""
    return [weakref.ref(m) for m in sorted(members, key=_name)]


def _read_stats(members: list[Any], memo: dict[int, tuple[Any, Any]]) -> tuple[Any, ...]:
    out: list[Any] = []
    append, recall = out.append, memo.get
    for m in members:
        try:  # a member without one, or whose key fails, is read every time
            key = m.stats_key()
        except Exception:
            key = None
        if key is not None:
            before = recall(id(m))
            if before is not None and before[0] == key:
                append(before[1])
                continue
        stats = _safe_stats(m.stats, m.name)
        if stats is None:
            continue
        append(stats)
        if key is not None:
            memo[id(m)] = (key, stats)
        else:
            memo.pop(id(m), None)
    if len(memo) > len(members):  # members gone (a new one at their id is popped on joining)
        live = {id(m) for m in members}
        for gone in [k for k in memo if k not in live]:
            del memo[gone]
    return tuple(out)


def _name(member: RegisteredCache | RegisteredPool) -> str:
    return member.name


def _safe_stats(read: Callable[[], S], name: str) -> S | None:
    # A user's cache whose stats() fails must not stop the engine from reporting the rest.
    try:
        return read()
    except Exception:
        log.warning("stats() of %r failed", name, exc_info=True)
        return None


#: The process-wide registry that caches and pools join unless given another.
REGISTRY = Registry()
