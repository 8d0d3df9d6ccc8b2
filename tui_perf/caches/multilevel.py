"""`MultiLevelCache`: a memory tier in front of an optional SQLite or Redis tier.

A lookup tries L1 (memory), then L2 (SQLite or Redis); an L2 hit is promoted into L1 with
its tags. A set writes both.

The contracts:

- **L2 is an optimisation, never a dependency.** Every L2 call goes through a `GuardedTier`:
  any error is a miss for reads and a counted failure for writes, a circuit breaker backs off
  a dead tier and probes it again, and recovery is automatic. The stats say "down" and why.
- **Write-behind** (`write_behind=True`) queues L2 writes and writes them in batches (on
  `batch_size`, every `flush_interval` seconds, on `close()`, when the cache is garbage
  collected, and at normal interpreter exit, after waiting for a batch in flight). Only a
  crash or SIGKILL may lose writes: at most the queue, bounded by `max_pending`. Deletes and
  invalidations win over queued and in-flight writes. `set()` after `close()` raises.
- **Namespaces.** Every L2 key starts with the cache's name, its codec and a layout version,
  so caches sharing a file or a server never see, overwrite or clear each other's entries;
  keys keep their type (`1` and `"1"` are two keys). Tags are namespaced the same way.
- **TTL.** A `ttl` per item, or the L1's own `ttl`, is the L2 entry's expiry too.
- **Staleness.** Over a shared SQLite file there is no invalidation channel: another
  process's L1 copy stays until it expires or is evicted, so give L1 a `ttl` to bound how
  stale it may be. Over Redis, `coherence=True` publishes every delete and invalidation, and
  every subscribed process drops its L1 copies (see `caches.coherence`).

`close()`/`aclose()` are idempotent; `with` and `async with` close on exit.

Every cache joins the registry, so the engine reports it and the memory guard's ladder can
flush its L1 (never L2 unless `flush_l2_on_pressure`, never when `pinned`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any

from tui_perf.caches.breaker import GuardedTier
from tui_perf.caches.codecs import Codec, JsonCodec, TamperedValueError, UndecodableValueError
from tui_perf.caches.l2 import Item, L2Tier
from tui_perf.caches.memory_tier import MISSING, MemoryTier
from tui_perf.caches.write_behind import WriteQueue
from tui_perf.engine.registry import REGISTRY, Registry
from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import CacheStats

log = logging.getLogger(__name__)

#: the layout of L2 keys and values; part of every key, so a new layout never misreads
LAYOUT = "v2"


class MultiLevelCache:
    """L1 memory over an optional L2; see the module docstring for the contracts."""

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
        max_pending: int = 100_000,
        pinned: bool = False,
        flush_l2_on_pressure: bool = False,
        coherence: bool = False,
        registry: Registry | None = None,
    ) -> None:
        if batch_size < 1 or flush_interval <= 0 or max_pending < batch_size:
            raise ConfigError(
                "batch_size must be >= 1, flush_interval > 0 and max_pending >= batch_size"
            )
        self.name = name
        self.l1 = l1 if l1 is not None else MemoryTier()
        fast = self.l1.fast_lookup()
        self._l1_data: dict[Any, Any] | None = None
        self._l1_touch: Callable[[Any], None] | None = None
        if fast is not None:
            self._l1_data, self._l1_touch = fast
        self.codec: Codec = codec if codec is not None else JsonCodec()
        self.key_prefix = key_prefix
        #: what every L2 key and tag of this cache starts with
        self.namespace = f"{name}|{self.codec.name}|{LAYOUT}|{key_prefix}"
        # A tier given already guarded (with its own clock or backoff) is used as it is.
        self.l2: GuardedTier | None = (
            l2 if isinstance(l2, GuardedTier) or l2 is None else GuardedTier(l2, owner=name)
        )
        self.pinned = pinned
        #: what `cached` measures on its misses: computations, their own time, and the
        #: time the miss path took around them (nanoseconds); advice weighs them
        self.computes = 0
        self.compute_ns = 0
        self.miss_overhead_ns = 0
        self.flush_l2_on_pressure = flush_l2_on_pressure
        self.promotions = 0
        self.errors = 0
        self.last_error = ""
        self._tag_keys: dict[str, set[Hashable]] = {}
        self._key_tags: dict[Hashable, tuple[str, ...]] = {}
        self._tag_lock = threading.Lock()
        self._closed = False
        self.queue: WriteQueue | None = None
        if write_behind and self.l2 is not None:
            self.queue = WriteQueue(
                self.l2,
                owner=name,
                batch_size=batch_size,
                flush_interval=flush_interval,
                max_pending=max_pending,
            )
            # On garbage collection and at normal exit: the queue is written, not lost.
            weakref.finalize(self, self.queue.close)
        self.coherence: Any = None
        if coherence and self.l2 is not None:
            from tui_perf.caches.coherence import RedisCoherence

            self.coherence = RedisCoherence(self, self.l2.tier)
        (registry if registry is not None else REGISTRY).register_cache(self)

    @property
    def write_behind(self) -> bool:
        return self.queue is not None

    # -- keys --------------------------------------------------------------------------

    def key_str(self, key: Hashable) -> str:
        """The key as L2 stores it: the namespace, then the key with its type kept."""
        if type(key) is str:
            return self.namespace + "s" + key
        return self.namespace + "r" + repr(key)

    def _l2_tags(self, tags: Sequence[str]) -> tuple[str, ...]:
        return tuple(self.namespace + t for t in tags)

    # -- reads -------------------------------------------------------------------------

    def get(self, key: Hashable, default: Any = None) -> Any:
        # An L1 hit in lru/fifo/rr is a dict read (plus the LRU move) with no lock and no
        # call into the tier: one Python frame, fewer than a bare cachetools get's four.
        data = self._l1_data
        if data is not None:
            try:
                value = data[key]
            except KeyError:
                pass
            else:
                touch = self._l1_touch
                if touch is not None:
                    try:  # noqa: SIM105 - a frame less on every hit
                        touch(key)
                    except KeyError:  # evicted by another thread between the two reads
                        pass
                self.l1.hits += 1
                return value
            with self.l1.lock:
                value = self.l1.get_after_miss(key)
        else:
            value = self.l1.get(key)
        if value is not MISSING:
            return value
        if self.l2 is None:
            return default
        ks = self.key_str(key)
        queued = self.queue.get(ks) if self.queue is not None else None
        stored = queued[1] if queued is not None else self.l2.get(ks)
        return self._promote(key, stored, default, from_queue=queued is not None)

    async def aget(self, key: Hashable, default: Any = None) -> Any:
        value = self.l1.get(key)
        if value is not MISSING:
            return value
        if self.l2 is None:
            return default
        ks = self.key_str(key)
        queued = self.queue.get(ks) if self.queue is not None else None
        data = queued[1] if queued is not None else await self.l2.aget(ks)
        return self._promote(key, data, default, from_queue=queued is not None)

    def _promote(self, key: Hashable, data: Any, default: Any, *, from_queue: bool) -> Any:
        if data is MISSING:
            return default
        try:
            tags, body = unpack_entry(data)
            value = self.codec.decode(body, place=self.key_str(key))
        except (TamperedValueError, UndecodableValueError) as exc:
            # Refused and treated as a miss: counted as one, and said in the log.
            assert self.l2 is not None
            if not from_queue:
                self.l2.refused += 1
            self.errors += 1
            self.last_error = f"{self.key_str(key)}: {exc}"
            log.warning("cache %s: %s", self.name, self.last_error)
            return default
        self.l1.set(key, value)
        if tags:
            self._index_tags(key, tags)
        self.promotions += 1
        return value

    def __contains__(self, key: Hashable) -> bool:
        return self.l1.peek(key) is not MISSING

    # -- writes ------------------------------------------------------------------------

    def _item(
        self, key: Hashable, value: Any, ttl: float | None, tags: Sequence[str]
    ) -> Item | None:
        if self._closed:
            raise ConfigError(f"cache {self.name} is closed: set() after close() is refused")
        if ttl is not None and not self.l1.per_item_ttl and self.l1.policy != "ttl":
            raise ConfigError(
                "a TTL per item needs an L1 with policy='tlru' or one created with a ttl"
            )
        # refuse before L1; the place binds the signature to this key of this cache
        body = self.codec.encode(value, place=self.key_str(key)) if self.l2 is not None else b""
        self.l1.set(key, value, ttl if self.l1.per_item_ttl else None)
        tags = tuple(tags)
        if tags:
            self._index_tags(key, tags)
        if self.l2 is None:
            return None
        expiry = ttl if ttl is not None else self.l1.default_ttl
        return (self.key_str(key), pack_entry(tags, body), expiry, self._l2_tags(tags))

    def set(
        self, key: Hashable, value: Any, *, ttl: float | None = None, tags: Sequence[str] = ()
    ) -> None:
        """Store in L1 and L2. `ttl` per item expires the entry in both tiers."""
        item = self._item(key, value, ttl, tags)
        if item is None:
            return
        assert self.l2 is not None
        if self.queue is not None:
            if self.queue.put(item):
                self.queue.flush()
        else:
            self.l2.set_many([item])

    async def aset(
        self, key: Hashable, value: Any, *, ttl: float | None = None, tags: Sequence[str] = ()
    ) -> None:
        item = self._item(key, value, ttl, tags)
        if item is None:
            return
        assert self.l2 is not None
        if self.queue is not None:
            if self.queue.put(item):
                await self.queue.aflush()
        else:
            await self.l2.aset_many([item])

    def flush(self) -> int:
        """Write queued write-behind items to L2 now; returns how many were written."""
        return self.queue.flush() if self.queue is not None else 0

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
        found = self.drop_local(key)
        if self.l2 is not None:
            ks = self.key_str(key)
            if self.queue is not None:
                found = self.queue.invalidate("key", ks, lambda i: i[0] == ks) > 0 or found
            found = self.l2.delete(ks) or found
            self._publish("key", ks)
        return found

    def drop_local(self, key: Hashable) -> bool:
        """Drop `key` from L1 only (what another process's invalidation asks of this one)."""
        with self._tag_lock:
            for tag in self._key_tags.pop(key, ()):
                self._tag_keys.get(tag, set()).discard(key)
        return self.l1.delete(key)

    def drop_local_prefix(self, prefix: str) -> int:
        n = 0
        for key in self.l1:
            text = key if type(key) is str else repr(key)
            if text.startswith(prefix):
                n += self.drop_local(key)
        return n

    def drop_local_tag(self, tag: str) -> int:
        with self._tag_lock:
            keys = self._tag_keys.pop(tag, set())
            for key in keys:
                self._key_tags.pop(key, None)
        return sum(self.l1.delete(k) for k in keys)

    def invalidate_prefix(self, prefix: str) -> int:
        """Drop every key that starts with `prefix` (non-string keys: their repr)."""
        n = self.drop_local_prefix(prefix)
        if self.l2 is not None:
            for full in (self.namespace + "s" + prefix, self.namespace + "r" + prefix):
                if self.queue is not None:
                    self.queue.invalidate("prefix", full, _starts_with(full))
                n = max(n, self.l2.delete_prefix(full))
                self._publish("prefix", full)
        return n

    def invalidate_tag(self, tag: str) -> int:
        """Drop every entry set with `tag`, promoted copies included; returns how many."""
        n = self.drop_local_tag(tag)
        if self.l2 is not None:
            full = self.namespace + tag
            if self.queue is not None:
                self.queue.invalidate("tag", full, lambda i: full in i[3])
            n = max(n, self.l2.delete_tag(full))
            self._publish("tag", full)
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
        """Drop every entry of this cache, in L1 and L2; other caches' entries stay."""
        self.clear_local()
        if self.l2 is not None:
            ns = self.namespace
            if self.queue is not None:
                self.queue.invalidate("prefix", ns, lambda i: True)
            self.l2.delete_prefix(ns)
            self._publish("prefix", ns)

    def clear_local(self) -> None:
        self.l1.clear()
        with self._tag_lock:
            self._tag_keys.clear()
            self._key_tags.clear()

    def _publish(self, kind: str, arg: str) -> None:
        if self.coherence is not None:
            self.coherence.publish(kind, arg)

    # -- the registry's side -----------------------------------------------------------

    def flush_memory(self) -> int:
        """The memory guard's rung: empty L1 (and L2 if configured); returns entries dropped."""
        dropped = self.l1.clear()
        if self.flush_l2_on_pressure and self.l2 is not None:
            self.flush()
            dropped += self.l2.delete_prefix(self.namespace)
        return dropped

    def stats(self) -> CacheStats:
        tiers = [self.l1.stats()]
        if self.l2 is not None:
            l2 = self.l2.stats()
            tiers.append(dataclasses.replace(l2, promotions=self.promotions))
        return CacheStats(
            self.name,
            tuple(tiers),
            self.pinned,
            computes=self.computes,
            compute_s=self.compute_ns / 1e9,
            miss_overhead_s=self.miss_overhead_ns / 1e9,
        )

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Write what is queued and close L2. Idempotent; later sets raise."""
        if self._closed:
            return
        self._closed = True
        if self.coherence is not None:
            self.coherence.close()
        if self.queue is not None:
            self.queue.close()
        if self.l2 is not None:
            self.l2.close()

    async def aclose(self) -> None:
        """`close` for async code: also closes the async L2 connection."""
        if self._closed:
            return
        self._closed = True
        if self.coherence is not None:
            self.coherence.close()
        if self.queue is not None:
            queue = self.queue
            # The queue's flush may wait for a batch in flight: not on the event loop.
            await asyncio.to_thread(queue.close)
        if self.l2 is not None:
            await self.l2.aclose()
            self.l2.close()

    def __enter__(self) -> MultiLevelCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> MultiLevelCache:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _starts_with(prefix: str) -> Callable[[Item], bool]:
    return lambda item: item[0].startswith(prefix)


def pack_entry(tags: tuple[str, ...], body: bytes) -> bytes:
    """An L2 value: its tags (so they travel with a promoted copy), then the codec's bytes."""
    if not tags:
        return b"\x00" + body
    head = "\x1f".join(tags).encode()
    if len(head) > 0xFFFF:
        raise ConfigError("too many or too long tags for one entry (64 KiB at most)")
    return b"\x01" + len(head).to_bytes(2, "big") + head + body


def unpack_entry(data: bytes) -> tuple[tuple[str, ...], bytes]:
    """The inverse of `pack_entry`; `UndecodableValueError` for anything else."""
    if data[:1] == b"\x00":
        return (), data[1:]
    if data[:1] == b"\x01" and len(data) >= 3:
        n = int.from_bytes(data[1:3], "big")
        if len(data) >= 3 + n:
            try:
                return tuple(data[3 : 3 + n].decode().split("\x1f")), data[3 + n :]
            except UnicodeDecodeError:
                pass
    raise UndecodableValueError("not a tui-perf cache entry (or a corrupt one)")
