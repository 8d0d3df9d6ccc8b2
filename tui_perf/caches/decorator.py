"""`cached`: one decorator for `def` and `async def`, over a `MultiLevelCache`.

The hit path is the one place that trades clarity for speed: everything it touches is bound
to closure locals. Concurrent misses of one key compute once (single-flight); failures are
not cached.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Hashable
from time import perf_counter_ns
from typing import Any, NamedTuple, TypeVar, cast, overload

from tui_perf.caches import hitpath, keys
from tui_perf.caches.codecs import Codec
from tui_perf.caches.l2 import L2Tier
from tui_perf.caches.memory_tier import MISSING, MemoryTier
from tui_perf.caches.multilevel import MultiLevelCache
from tui_perf.engine.registry import Registry
from tui_perf.model.errors import ConfigError

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    maxsize: int | None
    currsize: int


def make_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """A call's key: its arguments, then its keyword arguments by name. Types are kept
    apart (`typed`) by the cache's canonical form, in every tier (`caches.keys`)."""
    if kwargs:
        return (*args, keys.KW, *sorted(kwargs.items()))
    return args


class _Flight:
    """One computation that concurrent callers of the same key wait for."""

    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


@overload
def cached(func: F, /) -> F: ...
@overload
def cached(
    func: None = None,
    /,
    *,
    cache: MultiLevelCache | None = ...,
    name: str | None = ...,
    maxsize: int = ...,
    policy: str = ...,
    ttl: float | None = ...,
    key: Callable[..., Hashable] | None = ...,
    typed: bool = ...,
    l2: L2Tier | None = ...,
    codec: Codec | None = ...,
    registry: Registry | None = ...,
) -> Callable[[F], F]: ...


def cached(
    func: F | None = None,
    /,
    *,
    cache: MultiLevelCache | None = None,
    name: str | None = None,
    maxsize: int = 1024,
    policy: str = "lru",
    ttl: float | None = None,
    key: Callable[..., Hashable] | None = None,
    typed: bool = False,
    l2: L2Tier | None = None,
    codec: Codec | None = None,
    registry: Registry | None = None,
) -> F | Callable[[F], F]:
    """Cache a function's results, `def` or `async def` alike.

    Concurrent misses on one key compute it once: threads wait on the computing thread,
    coroutines await one shared task. An exception is not cached: it reaches the callers
    waiting on that computation, and the next caller computes again. `ttl` (seconds) turns
    the L1 policy into "ttl". The wrapper has `.cache`, `.cache_info()` and `.cache_clear()`.

    Arguments are keyed by their canonical form (`caches.keys`): equal numbers are one key
    unless `typed=True`, and an argument with no canonical form is refused at the first
    call (`UnkeyableError`): pass `key=` to say what identifies it.
    """

    def decorate(fn: F) -> F:
        qualname = f"{fn.__module__}.{fn.__qualname__}"
        the_cache = cache
        if the_cache is None:
            l1_policy = "ttl" if ttl is not None and policy == "lru" else policy
            the_cache = MultiLevelCache(
                name or fn.__qualname__,
                l1=MemoryTier(l1_policy, maxsize, ttl=ttl),
                l2=l2,
                codec=codec,
                key_prefix=f"{qualname}:",
                typed=typed,
                registry=registry,
            )
        elif typed and not the_cache.typed:
            raise ConfigError(
                f"cached(typed=True) needs its cache made with typed=True: {qualname}"
            )
        if inspect.iscoroutinefunction(fn):
            wrapper = _async_wrapper(fn, the_cache, key)
        else:
            wrapper = _sync_wrapper(fn, the_cache, key)
        functools.update_wrapper(wrapper, fn)
        c = the_cache
        wrapper.cache = c  # type: ignore[attr-defined]
        wrapper.cache_info = lambda: _info(c)  # type: ignore[attr-defined]
        wrapper.cache_clear = c.clear  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorate(func) if func is not None else decorate


def _info(cache: MultiLevelCache) -> CacheInfo:
    stats = cache.stats()
    return CacheInfo(stats.hits, stats.lookups - stats.hits, stats.tiers[0].maxsize, len(cache.l1))


def _key_builder(
    key: Callable[..., Hashable] | None, cache: MultiLevelCache
) -> Callable[[tuple[Any, ...], dict[str, Any]], Hashable]:
    if cache.typed:  # canonical before the L1 read: a raw `1.0` would find the int `1`
        canonical = cache.canonical
        if key is not None:
            return lambda args, kwargs: canonical(key(*args, **kwargs))
        return lambda args, kwargs: canonical(make_key(args, kwargs))
    if key is not None:
        return lambda args, kwargs: key(*args, **kwargs)
    return make_key


def _sync_wrapper(
    fn: Callable[..., Any], cache: MultiLevelCache, key: Callable[..., Hashable] | None
) -> Callable[..., Any]:
    build = _key_builder(key, cache)
    plain = key is None and not cache.typed  # a call without kwargs is keyed by its args
    canonical = cache.canonical
    flights: dict[Hashable, _Flight] = {}
    flights_lock = threading.Lock()
    l1 = cache.l1

    sampled_hit = l1.sampled_hit

    def miss(k: Hashable, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        k = canonical(k)  # the hit path looked the key up as it came; refused here if need be
        value = sampled_hit(k)  # a key the advice's key-stream sampler follows: a hit
        if value is not MISSING:
            return value
        started = perf_counter_ns()
        value = cache.get(k, MISSING)
        if value is not MISSING:
            return value
        with flights_lock:
            flight = flights.get(k)
            leader = flight is None
            if flight is None:
                flight = flights[k] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value
        try:
            value = l1.peek(k)  # another thread may have finished just before we led
            if value is MISSING:
                t0 = perf_counter_ns()
                value = fn(*args, **kwargs)
                t1 = perf_counter_ns()
                cache.set(k, value)
                # what a miss costs beyond the function itself, for advice to weigh
                cache.computes += 1
                cache.compute_ns += t1 - t0
                cache.miss_overhead_ns += perf_counter_ns() - started - (t1 - t0)
            flight.value = value
            return value
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with flights_lock:
                del flights[k]
            flight.done.set()

    fast = l1.fast_lookup()
    if plain:  # a wrapper with fn's own parameters, where fn's are plain names (hitpath)
        generated = hitpath.generate(
            fn,
            data=None if fast is None else fast[0],
            touch=None if fast is None else fast[1],
            counter=l1,
            miss=miss,
        )
        if generated is not None:
            return generated
    if fast is None:

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            k = args if plain and not kwargs else build(args, kwargs)
            return miss(k, args, kwargs)

        return wrapper

    # The hit path, where speed is the point: a dict read (plus an LRU move) with locals
    # bound, no lock and no extra frames; anything else goes through `miss`.
    data, touch = fast

    if touch is None:

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            k = args if plain and not kwargs else build(args, kwargs)
            try:
                value = data[k]
            except (KeyError, TypeError):  # TypeError: unhashable, refused in miss
                return miss(k, args, kwargs)
            l1.hits += 1
            return value

        return wrapper

    def lru_wrapper(*args: Any, **kwargs: Any) -> Any:
        k = args if plain and not kwargs else build(args, kwargs)
        try:
            value = data[k]
        except (KeyError, TypeError):  # TypeError: unhashable, refused in miss
            return miss(k, args, kwargs)
        try:  # noqa: SIM105 - contextlib.suppress costs a frame on the hit path
            touch(k)
        except KeyError:  # evicted by another thread between the two reads: still a hit
            pass
        l1.hits += 1
        return value

    return lru_wrapper


def _async_wrapper(
    fn: Callable[..., Awaitable[Any]],
    cache: MultiLevelCache,
    key: Callable[..., Hashable] | None,
) -> Callable[..., Any]:
    build = _key_builder(key, cache)
    plain = key is None and not cache.typed
    canonical = cache.canonical
    tasks: dict[Hashable, asyncio.Task[Any]] = {}
    l1 = cache.l1

    async def compute(k: Hashable, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        t0 = perf_counter_ns()
        value = await fn(*args, **kwargs)  # wall time across its awaits
        t1 = perf_counter_ns()
        await cache.aset(k, value)
        cache.computes += 1
        cache.compute_ns += t1 - t0
        cache.miss_overhead_ns += perf_counter_ns() - t1
        return value

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        k = canonical(args if plain and not kwargs else build(args, kwargs))
        value = l1.get(k)
        if value is not MISSING:
            return value
        if cache.l2 is not None:
            value = await cache.aget(k, MISSING)
            if value is not MISSING:
                return value
        task = tasks.get(k)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            value = l1.peek(k)
            if value is not MISSING:
                return value
            task = asyncio.ensure_future(compute(k, args, kwargs))
            tasks[k] = task

            def forget(t: asyncio.Task[Any], k: Hashable = k) -> None:
                if tasks.get(k) is t:
                    del tasks[k]
                if not t.cancelled():
                    t.exception()  # retrieved here too, so a lone failure is not "never seen"

            task.add_done_callback(forget)
        # shield: one caller giving up (cancelled) does not cancel the others' computation
        return await asyncio.shield(task)

    return wrapper
