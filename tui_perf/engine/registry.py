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
from typing import Protocol, TypeVar, runtime_checkable

from tui_perf.model.snapshot import CacheStats, PoolStats

log = logging.getLogger(__name__)


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

    def register_cache(self, cache: RegisteredCache) -> None:
        with self._lock:
            self._caches.add(cache)
            self._cache_refs = None
            self.version += 1

    def register_pool(self, pool: RegisteredPool) -> None:
        with self._lock:
            self._pools.add(pool)
            self._pool_refs = None
            self.version += 1

    def unregister(self, obj: object) -> None:
        with self._lock:
            self._caches.discard(obj)  # type: ignore[arg-type]
            self._pools.discard(obj)  # type: ignore[arg-type]
            self._cache_refs = self._pool_refs = None
            self.version += 1

    def caches(self) -> list[RegisteredCache]:
        """Live caches, sorted by name so that every view lists them in one order."""
        refs = self._cache_refs
        if refs is None:
            with self._lock:
                refs = self._cache_refs = [weakref.ref(c) for c in self._caches]
        items = [c for r in refs if (c := r()) is not None]  # a dropped cache has left
        return sorted(items, key=_name) if len(items) > 1 else items

    def pools(self) -> list[RegisteredPool]:
        refs = self._pool_refs
        if refs is None:
            with self._lock:
                refs = self._pool_refs = [weakref.ref(p) for p in self._pools]
        items = [p for r in refs if (p := r()) is not None]
        return sorted(items, key=_name) if len(items) > 1 else items

    def cache_stats(self) -> tuple[CacheStats, ...]:
        return tuple(s for c in self.caches() if (s := _safe_stats(c.stats, c.name)))

    def pool_stats(self) -> tuple[PoolStats, ...]:
        return tuple(s for p in self.pools() if (s := _safe_stats(p.stats, p.name)))


S = TypeVar("S", CacheStats, PoolStats)


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
