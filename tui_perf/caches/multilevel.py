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
  invalidations win over queued and in-flight writes, and a read of a key with a queued or
  in-flight write is answered from it, never from L2's older value. `set()`, `delete()`
  and the invalidations after `close()` raise `ConfigError`.
- **Namespaces.** Every L2 key starts with the cache's name, its codec and a layout version,
  so caches sharing a file or a server never see, overwrite or clear each other's entries.
  Tags are namespaced the same way.
- **One key in every tier.** A key is turned into its canonical form once (`caches.keys`):
  L1 holds it, L2 its text, so both tiers agree on which keys are one (`1`, `1.0` and
  `True` are; `1` and `"1"` are not; `typed=True` keeps every type apart). A key with no
  canonical form (an object whose text would be its address, a mutable one) is refused.
- **Bulk invalidation by generation.** Tags, prefixes and `clear()` bump a generation in L2
  and leave the rows; an entry older than a bump that covers it is a miss (see
  `caches.generations`). They return an `InvalidationResult`: the L1 copies dropped, and
  whether L2 was reached (if not, the bump is kept and stored on recovery, and no L2 entry
  is trusted here until then).
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
import functools
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any

from tui_perf.caches import keys
from tui_perf.caches.breaker import GuardedTier
from tui_perf.caches.codecs import Codec, JsonCodec, TamperedValueError, UndecodableValueError
from tui_perf.caches.coherence import Coherence
from tui_perf.caches.generations import Generations, InvalidationResult, Stamp
from tui_perf.caches.l2 import Item, L2Tier
from tui_perf.caches.memory_tier import MISSING, MemoryTier
from tui_perf.caches.tags import check_tag, check_tags
from tui_perf.caches.twins import Call, Steps, arun, run, skip
from tui_perf.caches.write_behind import DROPPED, WriteQueue
from tui_perf.engine.registry import REGISTRY, Registry
from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import CacheStats

log = logging.getLogger(__name__)

#: the layout of L2 keys and values; part of every key, so a new layout never misreads
LAYOUT = "v3"  # v3: keys in their canonical form (caches.keys)


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
        coherence: bool | Coherence = False,
        typed: bool = False,
        generation_refresh: float = 0.0,
        registry: Registry | None = None,
    ) -> None:
        if batch_size < 1 or flush_interval <= 0 or max_pending < batch_size:
            raise ConfigError(
                "batch_size must be >= 1, flush_interval > 0 and max_pending >= batch_size"
            )
        self.name = name
        self.l1 = l1 if l1 is not None else MemoryTier()
        #: keep `1`, `1.0` and `True` apart, in every tier (see `caches.keys`)
        self.typed = typed
        # Typed, a raw lookup could meet an equal key of another type: no raw fast path.
        fast = None if typed else self.l1.fast_lookup()
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
        # Without L2 a key never leaves the process: an object may be its own key there.
        self._local_keys = self.l2 is None
        #: tags, prefixes and clear() as generations in L2 (see caches.generations)
        self.generations: Generations | None = None
        if self.l2 is not None:
            self.generations = Generations(self.l2, self.namespace, refresh_s=generation_refresh)
            self.l2.on_overflow(self._tombstones_lost)
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
        # Every local drop counts here (under the lock); a read that saw another count when
        # it began puts nothing in L1: its L2 value may be what the drop revoked.
        self._drops = 0
        self._drops_lock = threading.Lock()
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

            self.coherence = RedisCoherence(self, self.l2.tier, coherence)
            if self.queue is not None:
                self.queue.on_written = _published_as_set(weakref.ref(self))
        (registry if registry is not None else REGISTRY).register_cache(self)

    @property
    def write_behind(self) -> bool:
        return self.queue is not None

    # -- keys --------------------------------------------------------------------------

    def canonical(self, key: Hashable) -> Any:
        """The key as every tier holds it (`caches.keys`); `UnkeyableError` if it has none."""
        return keys.canonical(key, self.typed, self._local_keys)

    def key_str(self, key: Hashable) -> str:
        """The key as L2 stores it: the namespace, then the canonical key's text."""
        return self.namespace + keys.text(keys.canonical(key, self.typed))

    def _l2_tags(self, tags: Sequence[str]) -> tuple[str, ...]:
        return tuple(self.namespace + t for t in tags)

    # -- reads -------------------------------------------------------------------------

    def get(self, key: Hashable, default: Any = None) -> Any:
        # An L1 hit in lru/fifo/rr is a dict read (plus the LRU move) with no lock and no
        # call into the tier: one Python frame, fewer than a bare cachetools get's four.
        # The key is looked up as it comes: L1 holds canonical keys, and an accepted key
        # equal to one (`1.0` to `1`) has that canonical form; anything else misses here
        # and is canonicalized (or refused) below.
        data = self._l1_data
        if data is not None:
            try:
                value = data[key]
            except (KeyError, TypeError):  # TypeError: unhashable, refused below
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
            form = keys.canonical(key, False, self._local_keys)
            if form is key:  # looked up already
                with self.l1.lock:
                    value = self.l1.get_after_miss(form)
            else:
                value = self.l1.get(form)
        else:
            form = self.canonical(key)
            value = self.l1.get(form)
        if value is not MISSING:
            return value
        if self.l2 is None:
            return default
        return run(self._read(form, default))

    async def aget(self, key: Hashable, default: Any = None) -> Any:
        key = self.canonical(key)
        value = self.l1.get(key)
        if value is not MISSING:
            return value
        if self.l2 is None:
            return default
        return await arun(self._read(key, default))

    def _read(self, key: Hashable, default: Any) -> Steps[Any]:
        """After an L1 miss of canonical `key` (both shells): the queued value, else L2's."""
        assert self.l2 is not None
        seen = self._drops  # before anything is read: see _promote
        ks = self.namespace + keys.text(key)
        queued = self.queue.get(ks) if self.queue is not None else None
        if queued is DROPPED:  # deleted while its write was in flight: L2 may hold it
            return default
        if queued is not None:
            stored = queued[1]  # read your writes: queued or in flight, never L2's older
        else:
            stored = yield Call(self._l2_get, self._al2_get, (ks,))
        return self._promote(key, stored, default, from_queue=queued is not None, seen=seen)

    def _promote(
        self, key: Hashable, data: Any, default: Any, *, from_queue: bool, seen: int
    ) -> Any:
        if data is MISSING:
            return default
        try:
            stamp, tags, body = unpack_entry(data)
            if not from_queue and not self._current(key, stamp, tags):
                return default
            place = signed_place(self.namespace + keys.text(key), tags, stamp or (0, 0))
            value = self.codec.decode(body, place=place)
        except (TamperedValueError, UndecodableValueError) as exc:
            # Refused and treated as a miss: counted as one, and said in the log.
            assert self.l2 is not None
            if not from_queue:
                self.l2.refused += 1
            self.errors += 1
            self.last_error = f"{self.key_str(key)}: {exc}"
            log.warning("cache %s: %s", self.name, self.last_error)
            return default
        with self._drops_lock:
            # A drop since this read began (a delete, an invalidation, another process's
            # message) may have revoked what was read: the caller gets it (the read began
            # first), L1 does not (found by an attack: 40 of 40 racing reads kept a
            # deleted value in L1 after delete() returned)
            if self._drops != seen:
                return value
            self.l1.set(key, value)
            if tags:
                self._index_tags(key, tags)
        self.promotions += 1
        return value

    def _dropping(self) -> None:
        with self._drops_lock:
            self._drops += 1

    def _current(self, key: Hashable, stamp: Stamp | None, tags: tuple[str, ...]) -> bool:
        """The check on read: an L2 entry older than a bump that covers it, or read while
        the generations cannot be, is a miss; a stale one's row is garbage, deleted here."""
        assert self.generations is not None and self.l2 is not None
        ks = self.namespace + keys.text(key)  # key is canonical here
        verdict = self.generations.judge(stamp, ks[len(self.namespace) :], tags)
        if verdict is True:
            return True
        self.l2.refused += 1  # a hit for the tier, a miss for the caller
        if verdict is False:
            self.l2.delete(ks)
        return False

    def _l2_get(self, ks: str) -> Any:
        # The generations first (on SQLite, with the entry in the same statement): while
        # they cannot be read (or a bump of ours waits for L2), nothing L2 holds is trusted.
        assert self.generations is not None and self.l2 is not None
        return self.generations.read(ks, self.l2.get)

    async def _al2_get(self, ks: str) -> Any:
        assert self.generations is not None and self.l2 is not None
        if await self.generations.acurrent() is None:
            return MISSING
        return await self.l2.aget(ks)

    async def _aready(self) -> None:
        if self.generations is not None:
            await self.generations.aready_to_stamp()

    def __contains__(self, key: Hashable) -> bool:
        return self.l1.peek(self.canonical(key)) is not MISSING

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
        key = self.canonical(key)
        tags = check_tags(tags)  # before anything is stored
        ks = self.namespace + keys.text(key)
        stamp: Stamp = (0, 0)
        body = b""
        if self.l2 is not None:  # refuse before L1
            assert self.generations is not None
            stamp = self.generations.stamp()
            # the signature binds the value to this key of this cache, its generation and
            # its tags: none of them can be changed in L2 without the value being refused
            body = self.codec.encode(value, place=signed_place(ks, tags, stamp))
        self.l1.set(key, value, ttl if self.l1.per_item_ttl else None)
        if tags:
            self._index_tags(key, tags)
        if self.l2 is None:
            return None
        expiry = ttl if ttl is not None else self.l1.default_ttl
        entry = pack_entry(tags, body, stamp)
        return (ks, entry, expiry, self._l2_tags(tags))

    def set(
        self, key: Hashable, value: Any, *, ttl: float | None = None, tags: Sequence[str] = ()
    ) -> None:
        """Store in L1 and L2. `ttl` per item expires the entry in both tiers."""
        tags = check_tags(tags)  # before L1: a refused tag stores nothing
        item = self._item(key, value, ttl, tags)
        if item is not None:
            run(self._write(item))

    async def aset(
        self, key: Hashable, value: Any, *, ttl: float | None = None, tags: Sequence[str] = ()
    ) -> None:
        tags = check_tags(tags)
        self._refuse_closed("aset")
        await self._aready()
        item = self._item(key, value, ttl, tags)
        if item is not None:
            await arun(self._write(item))

    def _write(self, item: Item) -> Steps[None]:
        """An L2 write (both shells): queued under write-behind, else written now."""
        assert self.l2 is not None
        if self.queue is not None:
            if self.queue.put(item):
                yield Call(self.queue.flush, self.queue.aflush)
        else:
            yield Call(self.l2.set_many, self.l2.aset_many, ([item],))
            # An overwrite: other processes drop their L1 copy (a write-behind queue says so
            # when its batch is written)
            self._publish("set", item[0])

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
        self._refuse_closed("delete")
        key = self.canonical(key)
        found = self.drop_local(key)
        if self.l2 is not None:
            ks = self.namespace + keys.text(key)
            if self.queue is not None:
                found = self.queue.invalidate("key", ks, lambda i: i[0] == ks) > 0 or found
            found = self.l2.delete(ks) or found
            self.drop_local(key)  # again: a read that promoted meanwhile (see _promote)
            self._publish("key", ks)
        return found

    def drop_local(self, key: Hashable) -> bool:
        """Drop `key` from L1 only (what another process's invalidation asks of this one)."""
        key = self.canonical(key)
        self._dropping()
        with self._tag_lock:
            for tag in self._key_tags.pop(key, ()):
                self._tag_keys.get(tag, set()).discard(key)
        return self.l1.delete(key)

    def drop_local_prefix(self, prefix: str) -> int:
        self._dropping()
        n = 0
        for key in self.l1:
            if keys.text(key)[1:].startswith(prefix):
                n += self.drop_local(key)
        return n

    def drop_local_tag(self, tag: str) -> int:
        self._dropping()
        with self._tag_lock:
            keys = self._tag_keys.pop(tag, set())
            for key in keys:
                self._key_tags.pop(key, None)
        return sum(self.l1.delete(k) for k in keys)

    def invalidate_prefix(self, prefix: str) -> InvalidationResult:
        """Drop every key that starts with `prefix` (other keys: their canonical text).

        An int, the L1 copies dropped here (L2's rows are not visited: a bump of the
        prefix's generation makes them unservable at once), with `reached_l2`."""
        if not isinstance(prefix, str):
            raise ConfigError(
                f"invalidate_prefix takes the start of a key as a str, not "
                f"{type(prefix).__name__} ({prefix!r:.40}): pass str(prefix)"
            )
        self._refuse_closed("invalidate_prefix")
        fulls = (self.namespace + "s" + prefix, self.namespace + "r" + prefix)
        self._mark(["p" + full[len(self.namespace) :] for full in fulls])
        n = self.drop_local_prefix(prefix)
        if self.queue is not None:
            for full in fulls:
                self.queue.invalidate("prefix", full, _starts_with(full))
        reached = self._bumped()
        self.drop_local_prefix(prefix)  # again: a read that promoted meanwhile
        for full in fulls:
            self._publish("prefix", full)
        return InvalidationResult(n, reached)

    def invalidate_tag(self, tag: str) -> InvalidationResult:
        """Drop every entry set with `tag`, promoted copies included: an int, the L1 copies
        dropped here (L2's rows are not visited), with `reached_l2`."""
        check_tag(tag)
        self._refuse_closed("invalidate_tag")
        self._mark(["t" + tag])
        n = self.drop_local_tag(tag)
        full = self.namespace + tag
        if self.queue is not None:
            self.queue.invalidate("tag", full, lambda i: full in i[3])
        reached = self._bumped()
        self.drop_local_tag(tag)  # again: a read that promoted meanwhile
        self._publish("tag", full)
        return InvalidationResult(n, reached)

    def _refuse_closed(self, what: str) -> None:
        # as set(): after close() L2 is not reached, and saying it was would be a lie
        if self._closed:
            raise ConfigError(f"cache {self.name} is closed: {what}() after close() is refused")

    def _mark(self, rules: list[str]) -> None:
        # Before L1 is dropped: from here no L2 read is trusted until L2 has the bump.
        if self.generations is not None:
            self.generations.mark(rules)

    def _tombstones_lost(self) -> None:
        """The guarded tier's overflow: more deletes (or failed writes) during an outage than
        it remembers. A clear covers every key it would forget; stored once L2 is back, and
        until then no L2 entry is trusted here (L1 keeps what this process wrote)."""
        self._mark(["c"])
        self._bumped()

    def _bumped(self) -> bool:
        """Store the marked bump in L2; False during an outage (kept, applied on recovery)."""
        return self.generations.apply() if self.generations is not None else True

    def warm(self, keys: Iterable[Hashable], loader: Callable[[Hashable], Any]) -> int:
        """Fill the cache ahead of use: `loader(key)` for each key not cached yet."""
        return run(self._warm(keys, loader))

    async def awarm(
        self, keys: Iterable[Hashable], loader: Callable[[Hashable], Awaitable[Any]]
    ) -> int:
        return await arun(self._warm(keys, loader))

    def _warm(self, keys: Iterable[Hashable], loader: Callable[[Hashable], Any]) -> Steps[int]:
        n = 0
        for key in keys:
            if self.l1.peek(self.canonical(key)) is MISSING:
                value = yield Call(loader, loader, (key,))
                item = self._item(key, value, None, ())
                if item is not None:
                    yield from self._write(item)
                n += 1
        return n

    def clear(self) -> InvalidationResult:
        """Drop every entry of this cache, in L1 and L2 (a bump of the namespace's
        generation); other caches' entries stay. Returns as `invalidate_tag`."""
        self._refuse_closed("clear")
        self._mark(["c"])
        n = len(self.l1)
        self.clear_local()
        if self.queue is not None:
            self.queue.invalidate("prefix", self.namespace, lambda i: True)
        reached = self._bumped()
        self.clear_local()  # again: a read that promoted meanwhile (see _promote)
        self._publish("prefix", self.namespace)
        return InvalidationResult(n, reached)

    def clear_local(self) -> None:
        self._dropping()
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

    def stats_key(self) -> int | None:
        """Equal from one call to the next only while `stats()` would be equal: the
        registry reads `stats()` again only when it moves. None (read every time) with an
        L2, whose figures move in other processes and with the breaker's clock."""
        l1 = self.l1
        if self.l2 is not None or l1.time_bound:
            return None
        # `change_count` inlined: this runs for every cache at every tick. `cached` adds
        # its compute times just after `computes`: a tick between the two reads them at
        # most one computation late
        changes = l1.hits + l1.misses + l1.sets + l1.mutations + self.computes
        return changes * 2 + self.pinned

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
        run(self._close())

    async def aclose(self) -> None:
        """`close` for async code: also closes the async L2 connection."""
        await arun(self._close())

    def _close(self) -> Steps[None]:
        if self._closed:
            return
        self._closed = True
        if self.coherence is not None:
            self.coherence.close()
        if self.l2 is not None and self.l2.down:
            # one last try past the breaker's backoff: a revoke made during an outage that
            # ended a moment ago is stored, not lost with this process
            self.l2.retry_now()
        if self.generations is not None:
            self.generations.close()
        if self.queue is not None:
            queue = self.queue
            # The queue's flush may wait for a batch in flight: not on the event loop.
            yield Call(queue.close, functools.partial(asyncio.to_thread, queue.close))
        if self.l2 is not None:
            yield Call(skip, self.l2.aclose)  # the async connection, opened by async calls
            self.l2.close()

    def __enter__(self) -> MultiLevelCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> MultiLevelCache:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _published_as_set(ref: weakref.ref[MultiLevelCache]) -> Callable[[list[str]], None]:
    """A write-behind queue's `on_written` for a cache with coherence (held weakly: the
    queue's thread must not keep the cache alive)."""

    def written(keys_written: list[str]) -> None:
        cache = ref()
        if cache is not None:
            for ks in keys_written:
                cache._publish("set", ks)

    return written


def _starts_with(prefix: str) -> Callable[[Item], bool]:
    return lambda item: item[0].startswith(prefix)


def signed_place(ks: str, tags: tuple[str, ...], stamp: Stamp) -> str:
    """What a signed value is bound to: its L2 key, the generation it was written under and
    its tags (the entry's header travels outside the codec's bytes)."""
    return f"{ks}\x00{stamp[0]}:{stamp[1]}\x00" + "\x1f".join(tags)


def pack_entry(tags: tuple[str, ...], body: bytes, stamp: Stamp) -> bytes:
    """An L2 value: the generation it was written under (incarnation, epoch: 8 bytes each),
    its tags (so they travel with a promoted copy and the read can check their
    generations), then the codec's bytes."""
    head = "\x1f".join(tags).encode()
    if len(head) > 0xFFFF:
        raise ConfigError("too many or too long tags for one entry (64 KiB at most)")
    return b"".join(
        (
            b"\x02",
            stamp[0].to_bytes(8, "big"),
            stamp[1].to_bytes(8, "big"),
            len(head).to_bytes(2, "big"),
            head,
            body,
        )
    )


def unpack_entry(data: bytes) -> tuple[Stamp | None, tuple[str, ...], bytes]:
    """The inverse of `pack_entry`; `UndecodableValueError` for anything else. An entry of
    the layout before generations (no stamp) comes back with None: a miss, never served."""
    kind = data[:1]
    stamp: Stamp | None = None
    at = 1  # where the tags' length is
    if kind == b"\x02" and len(data) >= 19:
        stamp = (int.from_bytes(data[1:9], "big"), int.from_bytes(data[9:17], "big"))
        at = 17
    elif kind == b"\x00":
        return None, (), data[1:]
    if kind in (b"\x01", b"\x02") and len(data) >= at + 2:
        n = int.from_bytes(data[at : at + 2], "big")
        start = at + 2
        if len(data) >= start + n:
            try:
                tags = data[start : start + n].decode().split("\x1f") if n else []
                return stamp, tuple(tags), data[start + n :]
            except UnicodeDecodeError:
                pass
    raise UndecodableValueError("not a tui-perf cache entry (or a corrupt one)")
