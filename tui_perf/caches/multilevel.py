"""`MultiLevelCache`: a memory tier in front of an optional SQLite or Redis tier.

A lookup tries L1 (memory), then L2 (SQLite or Redis); an L2 hit is promoted into L1. A set
writes both. With `write_behind=True` L2 writes are queued and written in batches (on
`batch_size`, every `flush_interval` seconds, and on `close()`): **a crash loses the writes
still queued**, at most `batch_size` entries or `flush_interval` seconds of them. L1 never
loses anything it was given while the process lives.

Every cache joins the registry, so the engine reports it and the memory guard's ladder can
flush its L1 (never L2 unless `flush_l2_on_pressure`, never when `pinned`).
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any

from tui_perf.caches.codecs import Codec, JsonCodec, TamperedValueError, UndecodableValueError
from tui_perf.caches.l2 import Item, L2Tier
from tui_perf.caches.memory_tier import MISSING, MemoryTier
from tui_perf.engine.registry import REGISTRY, Registry
from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import CacheStats

log = logging.getLogger(__name__)


class MultiLevelCache:
    """L1 memory over an optional L2; see the module docstring for write-behind."""

    def __init__(
        self,
        name: str,
        *,
        l1: MemoryTier | None = None,
        l2: L2Tier | None = None,
        codec: Codec | None = None,
        key_prefix: str = "",
        write_behind: bool = False,
        batch_size: int = 100,
        flush_interval: float = 1.0,
        pinned: bool = False,
        flush_l2_on_pressure: bool = False,
        registry: Registry | None = None,
    ) -> None:
        if batch_size < 1 or flush_interval <= 0:
            raise ConfigError("batch_size must be >= 1 and flush_interval > 0")
        self.name = name
        self.l1 = l1 if l1 is not None else MemoryTier()
        self.l2 = l2
        self.codec: Codec = codec if codec is not None else JsonCodec()
        self.key_prefix = key_prefix
        self.pinned = pinned
        self.flush_l2_on_pressure = flush_l2_on_pressure
        self.promotions = 0
        self.errors = 0
        self.last_error = ""
        self._tag_keys: dict[str, set[Hashable]] = {}
        self._key_tags: dict[Hashable, tuple[str, ...]] = {}
        self._tag_lock = threading.Lock()
        self.write_behind = write_behind and l2 is not None
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._pending: dict[str, Item] = {}
        self._pending_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._closed = threading.Event()
        if self.write_behind:
            self._start_flusher()
        (registry if registry is not None else REGISTRY).register_cache(self)

    # -- keys --------------------------------------------------------------------------

    def key_str(self, key: Hashable) -> str:
        """The key as L2 stores it: strings as they are, anything else by its repr."""
        return self.key_prefix + (key if isinstance(key, str) else repr(key))

    # -- reads -------------------------------------------------------------------------

    def get(self, key: Hashable, default: Any = None) -> Any:
        value = self.l1.get(key)
        if value is not MISSING:
            return value
        if self.l2 is None:
            return default
        ks = self.key_str(key)
        pending = self._pending.get(ks)
        data = pending[1] if pending is not None else self.l2.get(ks)
        return self._promote(key, data, default)

    async def aget(self, key: Hashable, default: Any = None) -> Any:
        value = self.l1.get(key)
        if value is not MISSING:
            return value
        if self.l2 is None:
            return default
        ks = self.key_str(key)
        pending = self._pending.get(ks)
        data = pending[1] if pending is not None else await self.l2.aget(ks)
        return self._promote(key, data, default)

    def _promote(self, key: Hashable, data: Any, default: Any) -> Any:
        if data is MISSING:
            return default
        try:
            value = self.codec.decode(data)
        except (TamperedValueError, UndecodableValueError) as exc:
            # Refused and treated as a miss: counted as one, and said once in the log.
            assert self.l2 is not None
            self.l2.hits -= 1  # type: ignore[attr-defined]
            self.l2.misses += 1  # type: ignore[attr-defined]
            self.errors += 1
            self.last_error = f"{self.key_str(key)}: {exc}"
            log.warning("cache %s: %s", self.name, self.last_error)
            return default
        self.l1.set(key, value)
        self.promotions += 1
        return value

    def __contains__(self, key: Hashable) -> bool:
        return self.l1.peek(key) is not MISSING

    # -- writes ------------------------------------------------------------------------

    def _item(
        self, key: Hashable, value: Any, ttl: float | None, tags: Sequence[str]
    ) -> Item | None:
        self.l1.set(key, value, ttl if self.l1.policy == "tlru" else None)
        if tags:
            self._index_tags(key, tuple(tags))
        if self.l2 is None:
            return None
        return (self.key_str(key), self.codec.encode(value), ttl, tuple(tags))

    def set(
        self, key: Hashable, value: Any, *, ttl: float | None = None, tags: Sequence[str] = ()
    ) -> None:
        """Store in L1 and L2. `ttl` is per item (L1 needs policy='tlru' to honour it)."""
        if ttl is not None and self.l1.policy not in ("tlru", "ttl"):
            raise ConfigError("a TTL per item needs an L1 with policy='tlru'")
        item = self._item(key, value, ttl, tags)
        if item is None:
            return
        assert self.l2 is not None
        if self.write_behind:
            if self._queue(item):
                self.flush()
        else:
            self.l2.set_many([item])

    async def aset(
        self, key: Hashable, value: Any, *, ttl: float | None = None, tags: Sequence[str] = ()
    ) -> None:
        if ttl is not None and self.l1.policy not in ("tlru", "ttl"):
            raise ConfigError("a TTL per item needs an L1 with policy='tlru'")
        item = self._item(key, value, ttl, tags)
        if item is None:
            return
        assert self.l2 is not None
        if self.write_behind:
            if self._queue(item):
                await self.l2.aset_many(self._take_pending())
        else:
            await self.l2.aset_many([item])

    def _queue(self, item: Item) -> bool:
        """Queue a write-behind item; True when the batch is full."""
        with self._pending_lock:
            self._pending[item[0]] = item  # a newer value for a key replaces the queued one
            return len(self._pending) >= self.batch_size

    def _take_pending(self) -> list[Item]:
        with self._pending_lock:
            items = list(self._pending.values())
            self._pending.clear()
            return items

    def flush(self) -> int:
        """Write queued write-behind items to L2 now; returns how many."""
        if self.l2 is None:
            return 0
        items = self._take_pending()
        if items:
            try:
                self.l2.set_many(items)
            except Exception:
                with self._pending_lock:  # keep them for the next attempt, newer ones win
                    for item in items:
                        self._pending.setdefault(item[0], item)
                raise
        return len(items)

    def _start_flusher(self) -> None:
        ref = weakref.ref(self)
        closed = self._closed
        interval = self.flush_interval

        def loop() -> None:
            while not closed.wait(interval):
                cache = ref()
                if cache is None:
                    return
                try:
                    cache.flush()
                except Exception:
                    log.warning("cache %s: write-behind flush failed", cache.name, exc_info=True)
                del cache

        self._flusher = threading.Thread(
            target=loop, name=f"tui-perf-cache-{self.name}", daemon=True
        )
        self._flusher.start()
        atexit.register(_flush_at_exit, ref)

    # -- invalidation ------------------------------------------------------------------

    def _index_tags(self, key: Hashable, tags: tuple[str, ...]) -> None:
        with self._tag_lock:
            for old in self._key_tags.get(key, ()):
                self._tag_keys.get(old, set()).discard(key)
            self._key_tags[key] = tags
            for tag in tags:
                self._tag_keys.setdefault(tag, set()).add(key)
            if len(self._key_tags) > 2 * len(self.l1) + 64:  # forget keys L1 evicted
                live = set(self.l1.keys())
                for gone in [k for k in self._key_tags if k not in live]:
                    for tag in self._key_tags.pop(gone):
                        self._tag_keys.get(tag, set()).discard(gone)

    def delete(self, key: Hashable) -> bool:
        found = self.l1.delete(key)
        if self.l2 is not None:
            ks = self.key_str(key)
            with self._pending_lock:
                found = self._pending.pop(ks, None) is not None or found
            found = self.l2.delete(ks) or found
        return found

    def invalidate_prefix(self, prefix: str) -> int:
        """Drop every key whose L2 form (`key_str`) starts with `prefix`; returns how many."""
        full = self.key_prefix + prefix
        n = 0
        for key in self.l1:
            if self.key_str(key).startswith(full):
                n += self.l1.delete(key)
        if self.l2 is not None:
            with self._pending_lock:
                for ks in [k for k in self._pending if k.startswith(full)]:
                    del self._pending[ks]
            n = max(n, self.l2.delete_prefix(full))
        return n

    def invalidate_tag(self, tag: str) -> int:
        """Drop every entry set with `tag`; returns how many."""
        with self._tag_lock:
            keys = self._tag_keys.pop(tag, set())
            for key in keys:
                self._key_tags.pop(key, None)
        n = sum(self.l1.delete(k) for k in keys)
        if self.l2 is not None:
            with self._pending_lock:
                for ks in [k for k, item in self._pending.items() if tag in item[3]]:
                    del self._pending[ks]
            n = max(n, self.l2.delete_tag(tag))
        return n

    def warm(self, keys: Iterable[Hashable], loader: Callable[[Hashable], Any]) -> int:
        """Fill the cache ahead of use: `loader(key)` for each key not cached yet."""
        n = 0
        for key in keys:
            if self.l1.peek(key) is MISSING:
                self.set(key, loader(key))
                n += 1
        return n

    async def awarm(
        self, keys: Iterable[Hashable], loader: Callable[[Hashable], Awaitable[Any]]
    ) -> int:
        n = 0
        for key in keys:
            if self.l1.peek(key) is MISSING:
                await self.aset(key, await loader(key))
                n += 1
        return n

    def clear(self) -> None:
        self.l1.clear()
        with self._tag_lock:
            self._tag_keys.clear()
            self._key_tags.clear()
        if self.l2 is not None:
            self._take_pending()
            if self.key_prefix:
                self.l2.delete_prefix(self.key_prefix)
            else:
                self.l2.clear()

    # -- the registry's side -----------------------------------------------------------

    def flush_memory(self) -> int:
        """The memory guard's rung: empty L1 (and L2 if configured); returns entries dropped."""
        dropped = self.l1.clear()
        if self.flush_l2_on_pressure and self.l2 is not None:
            self.flush()
            dropped += self.l2.delete_prefix(self.key_prefix)
        return dropped

    def stats(self) -> CacheStats:
        tiers = [self.l1.stats()]
        if self.l2 is not None:
            l2 = self.l2.stats()
            tiers.append(dataclasses.replace(l2, promotions=self.promotions))
        return CacheStats(self.name, tuple(tiers), self.pinned)

    def close(self) -> None:
        """Flush write-behind items and close L2."""
        self._closed.set()
        if self.l2 is not None:
            self.flush()
            self.l2.close()

    async def aclose(self) -> None:
        self._closed.set()
        if self.l2 is not None:
            await self.l2.aset_many(self._take_pending())
            await self.l2.aclose()
            self.l2.close()


def _flush_at_exit(ref: weakref.ref[MultiLevelCache]) -> None:
    cache = ref()
    if cache is not None and not cache._closed.is_set():
        try:
            cache.flush()
        except Exception:
            log.warning("cache %s: final write-behind flush failed", cache.name, exc_info=True)
