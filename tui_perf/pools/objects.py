"""`ObjectPool`: reuse expensive objects, and see what the pool is doing.

Stats a person needs at a glance (after psycopg_pool's `get_stats()`): created, reused and
the reuse rate, in use, idle, waits and the 95th percentile wait, timeouts, objects
discarded by validation, and leaks. A leak is an object garbage-collected while checked out;
a weakref callback notices it and records where it was acquired (the way SQLAlchemy warns
about connections that were never returned). Objects that cannot be weakly referenced
(`bytearray`, ints, plain tuples) cannot be seen dying, so every lease also has an age: one
held longer than `leak_after` seconds is reported as overdue (a suspected leak, with where it
was acquired), and the pool is unhealthy while any is. `get()` waits at most `timeout`
seconds (30 by default) for a free object: a pool exhausted by leaks fails loudly instead of
hanging its callers.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from tui_perf.engine.registry import REGISTRY, Registry
from tui_perf.model.errors import ConfigError, TuiPerfError
from tui_perf.model.quantiles import nearest_rank
from tui_perf.model.snapshot import PoolStats

log = logging.getLogger(__name__)

T = TypeVar("T")
_names = itertools.count(1)


class PoolTimeout(TuiPerfError, TimeoutError):
    """No object came free within the timeout."""


class PoolError(TuiPerfError):
    """Misuse of a pool: releasing twice, or an object that did not come from it."""


# A lease is a plain tuple, built in one bytecode on the checkout path, which is the hot one:
# (code, line) of where it was acquired (formatted only when reported), the weakref whose
# death reports a leak (None: not weakly referenceable, or not tracked), and when it was
# checked out by the pool's clock (0.0: not tracked).
_Lease = tuple[Any, int, Any, float]
_UNTRACKED: _Lease = (None, 0, None, 0.0)


def _where(lease: _Lease) -> str:
    code, line = lease[0], lease[1]
    if code is None:
        return "an unknown place"
    return f"{code.co_filename}:{line} in {code.co_name}"


class _PoolDefault:
    def __repr__(self) -> str:
        return "the pool's timeout"


#: `get()`/`acquire()` without a timeout use the pool's; pass None to wait forever
POOL_DEFAULT: Any = _PoolDefault()


class ObjectPool(Generic[T]):
    """A thread-safe pool. `with pool.acquire() as obj:` or `obj = pool.get(); pool.put(obj)`."""

    def __init__(
        self,
        factory: Callable[[], T],
        *,
        max_idle: int = 16,
        max_size: int | None = None,
        reset: Callable[[T], object] | None = None,
        validate: Callable[[T], bool] | None = None,
        name: str | None = None,
        track_leaks: bool = True,
        leak_after: float | None = 300.0,
        timeout: float | None = 30.0,
        clock: Callable[[], float] = time.monotonic,
        registry: Registry | None = None,
    ) -> None:
        if leak_after is not None and not leak_after > 0:
            raise ConfigError(f"leak_after must be above 0 seconds (or None), got {leak_after}")
        if timeout is not None and not timeout >= 0:
            raise ConfigError(f"timeout must be 0 or more seconds (or None), got {timeout}")
        if max_idle < 0:
            raise ConfigError(f"max_idle must be 0 or more, got {max_idle}")
        if max_size is not None and max_size < 1:
            raise ConfigError(f"max_size must be at least 1, got {max_size}")
        self.name = name or f"pool-{next(_names)}"
        self.kind = "object"
        self._factory = factory
        self._reset = reset
        self._validate = validate
        self.max_idle = max_idle
        self.max_size = max_size
        self.track_leaks = track_leaks
        self.leak_after = leak_after
        self.timeout = timeout
        self._clock = clock
        # Idle objects with the weakref that watches them while checked out: made once per
        # object, not per checkout, it travels with the object between idle and lease.
        self._idle: deque[tuple[T, Any]] = deque()
        self._leases: dict[int, _Lease] = {}
        # `with self._lock` runs in C; the Condition (same lock) is only for waiting.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self.created = self.reused = self.requests = self.waits = self.timeouts = 0
        self.discarded = self.leaks = self.errors = 0
        self.last_leak = ""
        self._wait_ms: deque[float] = deque(maxlen=1000)
        self._waiting = 0  # threads blocked in get(): notify only when someone listens
        #: weakrefs of checked-out objects that died, not yet counted (see `_leaked`)
        self._deaths: list[weakref.ref[Any]] = []
        # one callback for every lease's weakref; it holds the pool weakly
        self._on_death = functools.partial(_leaked, weakref.ref(self))
        (registry if registry is not None else REGISTRY).register_pool(self)

    # -- checking out and in -----------------------------------------------------------

    def get(self, timeout: float | None = POOL_DEFAULT) -> T:
        """Take an idle object or make one; with `max_size` reached, wait up to `timeout`.

        `timeout` defaults to the pool's (30 s unless set); None waits forever.
        """
        # The common case, in one frame: an idle object is there and nothing validates it.
        if self._validate is None:
            with self._lock:
                if self._deaths:
                    self._reap()
                if self._idle:
                    obj, ref = self._idle.pop()  # LIFO: the warmest object first
                    self.requests += 1
                    self.reused += 1
                    if not self.track_leaks:
                        self._leases[id(obj)] = _UNTRACKED
                        return obj
                    frame = _getframe(1)
                    if frame.f_globals is _GLOBALS:  # through `acquire`: walk out to its caller
                        frame = _outside(frame)
                    # Not weakly referenceable (bytearray, int, tuple): only its age can
                    # reveal a leak. Asked of the type, as raising TypeError costs 0.5 µs.
                    if ref is None and type(obj).__weakrefoffset__:  # as _weakrefable
                        ref = _weakref(obj, self._on_death)
                    self._leases[id(obj)] = (frame.f_code, frame.f_lineno, ref, self._clock())
                    return obj
        return self._get_waiting(timeout)

    def _get_waiting(self, timeout: float | None) -> T:
        """`get` when there is no idle object to take at once, or objects are validated."""
        if timeout is POOL_DEFAULT:
            timeout = self.timeout
        waited_from: float | None = None
        deadline: float | None = None
        with self._lock:
            self.requests += 1
            while True:
                if self._deaths:
                    self._reap()  # a leaked object's slot is free again
                while self._idle:
                    obj, ref = self._idle.pop()  # LIFO: the warmest object first
                    if self._validate is not None and not self._is_valid(obj):
                        self.discarded += 1
                        continue
                    self.reused += 1
                    return self._lease(obj, waited_from, ref)
                if self.max_size is None or len(self._leases) < self.max_size:
                    break
                if waited_from is None:
                    waited_from = time.monotonic()
                    deadline = None if timeout is None else waited_from + timeout
                    self.waits += 1
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    self.timeouts += 1
                    self._wait_ms.append((time.monotonic() - waited_from) * 1000)
                    raise PoolTimeout(
                        f"pool {self.name}: no object free within {timeout:g} s "
                        f"({len(self._leases)} in use, max_size {self.max_size})"
                    )
                self._waiting += 1
                try:
                    self._cond.wait(
                        _REAP_EVERY if remaining is None else min(remaining, _REAP_EVERY)
                    )
                finally:
                    self._waiting -= 1
            # Reserve the slot before creating outside the lock (a factory may be slow).
            placeholder = object()
            self._leases[id(placeholder)] = _UNTRACKED
        try:
            obj = self._factory()
        except BaseException:
            with self._lock:
                del self._leases[id(placeholder)]
                self.errors += 1
                if self._waiting:
                    self._cond.notify()
            raise
        with self._lock:
            del self._leases[id(placeholder)]
            self.created += 1
            return self._lease(obj, waited_from)

    def _is_valid(self, obj: T) -> bool:
        assert self._validate is not None
        try:
            return bool(self._validate(obj))
        except Exception:
            return False

    def _lease(self, obj: T, waited_from: float | None, ref: Any = None) -> T:
        if waited_from is not None:
            self._wait_ms.append((time.monotonic() - waited_from) * 1000)
        if not self.track_leaks:
            self._leases[id(obj)] = _UNTRACKED
            return obj
        frame = _outside(_getframe(1))
        if ref is None and _weakrefable(obj):
            ref = _weakref(obj, self._on_death)
        self._leases[id(obj)] = (frame.f_code, frame.f_lineno, ref, self._clock())
        return obj

    def put(self, obj: T) -> None:
        """Return an object; resets it, and keeps it unless `max_idle` are idle already."""
        with self._lock:
            if self._deaths:
                self._reap()
            lease = self._leases.pop(id(obj), None)
            if lease is None:
                raise PoolError(
                    f"pool {self.name}: this {type(obj).__name__} is not checked out from it "
                    "(released twice, or from another pool)"
                )
            # returned: no lease, so its death is no leak; the weakref stays with it
            if self._reset is None:
                if len(self._idle) < self.max_idle:
                    self._idle.append((obj, lease[2]))
                if self._waiting:
                    self._cond.notify()
                return
        try:
            self._reset(obj)
        except Exception:
            log.warning("pool %s: reset failed; object discarded", self.name, exc_info=True)
            with self._lock:
                self.discarded += 1
                if self._waiting:
                    self._cond.notify()
            return
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append((obj, lease[2]))
            if self._waiting:
                self._cond.notify()

    @contextlib.contextmanager
    def acquire(self, timeout: float | None = POOL_DEFAULT) -> Iterator[T]:
        obj = self.get(timeout)
        try:
            yield obj
        finally:
            self.put(obj)

    # -- the registry's side -----------------------------------------------------------

    def drain(self) -> int:
        """Drop idle objects (never those checked out); returns how many."""
        with self._lock:
            n = len(self._idle)
            self._idle.clear()
            return n

    def resize(self, *, max_size: int | None = None, max_idle: int | None = None) -> int:
        """Change the limits at run time (advice taken by hand or by the tuner). A larger
        `max_size` wakes the waiters; a smaller `max_idle` drops the idle objects past it.
        Returns how many idle objects were dropped."""
        if max_size is not None and max_size < 1:
            raise ConfigError(f"max_size must be at least 1, got {max_size}")
        if max_idle is not None and max_idle < 0:
            raise ConfigError(f"max_idle must be 0 or more, got {max_idle}")
        dropped = 0
        with self._lock:
            if max_size is not None:
                self.max_size = max_size
                if self._waiting:
                    self._cond.notify_all()
            if max_idle is not None:
                self.max_idle = max_idle
                while len(self._idle) > max_idle:
                    self._idle.popleft()  # the coldest first
                    dropped += 1
        return dropped

    @property
    def in_use(self) -> int:
        return len(self._leases)

    @property
    def idle(self) -> int:
        return len(self._idle)

    def _reap(self) -> None:
        """Count the checked-out objects that died (call with the lock held). Their weakrefs'
        callback only queues them (see `_leaked`); a scan finds each one's lease, as leaks
        are rare and a per-checkout callback object would cost every checkout."""
        freed = 0
        while self._deaths:
            dead = self._deaths.pop()
            for obj_id, lease in self._leases.items():
                if lease[2] is dead:
                    del self._leases[obj_id]
                    break
            else:
                continue  # returned before it died: no leak
            freed += 1
            self.leaks += 1
            self.last_leak = _where(lease)
            log.warning(
                "pool %s: an object acquired at %s was garbage-collected without being returned",
                self.name,
                self.last_leak,
            )
        if freed and self._waiting:
            self._cond.notify(freed)

    def _overdue(self) -> list[_Lease]:
        """Leases held past `leak_after`, oldest first (call with the lock held)."""
        if self.leak_after is None or not self.track_leaks:
            return []
        cutoff = self._clock() - self.leak_after
        late = [lease for lease in self._leases.values() if lease[3] and lease[3] < cutoff]
        return sorted(late, key=lambda lease: lease[3])

    def stats_key(self) -> tuple[int, ...] | None:
        """Equal from one call to the next only while `stats()` would be equal (the
        registry reads `stats()` again only when it moves); None while a lease could turn
        overdue with time alone, or a leak waits to be counted."""
        if self._deaths or (self._leases and self.leak_after is not None and self.track_leaks):
            return None
        return (
            self.requests,
            self.created,
            self.discarded,
            self.errors,
            self.leaks,
            self.timeouts,
            len(self._idle),
            len(self._leases),
            self.max_size or 0,
        )

    def stats(self) -> PoolStats:
        with self._lock:
            if self._deaths:
                self._reap()
            waits_ms = list(self._wait_ms)
            overdue = self._overdue()
            healthy, reason = True, ""
            if self.leaks:
                healthy, reason = False, f"{self.leaks} leaked (last acquired at {self.last_leak})"
            elif overdue:
                healthy = False
                reason = (
                    f"{len(overdue)} held over {self.leak_after:g} s, suspected leaks "
                    f"(oldest acquired at {_where(overdue[0])})"
                )
            elif self.timeouts:
                healthy, reason = False, f"{self.timeouts} timeouts waiting for a free object"
            return PoolStats(
                name=self.name,
                kind=self.kind,
                in_use=len(self._leases),
                idle=len(self._idle),
                created=self.created,
                reused=self.reused,
                requests=self.requests,
                waits=self.waits,
                wait_p95_ms=nearest_rank(sorted(waits_ms), 95),
                timeouts=self.timeouts,
                discarded=self.discarded,
                leaks=self.leaks,
                errors=self.errors,
                max_size=self.max_size,
                overdue=len(overdue),
                healthy=healthy,
                reason=reason,
            )


#: files whose frames are the pool's own, not where an object was acquired
_OURS = frozenset({__file__, contextlib.__file__})


_getframe = sys._getframe
#: seconds a thread waiting for a free object sleeps at most before it counts deaths
#: queued while the lock was held (see `_leaked`)
_REAP_EVERY = 0.25
_GLOBALS = globals()
_weakref = weakref.ref


def _weakrefable(obj: object) -> bool:
    # a type's weakref slot offset is 0 exactly when its instances cannot be weakly
    # referenced (3.12+ marks a managed slot with a negative offset)
    return type(obj).__weakrefoffset__ != 0


def _outside(frame: Any) -> Any:
    """The first frame outside this module and contextlib: where the object was acquired."""
    while frame.f_back is not None and frame.f_code.co_filename in _OURS:
        frame = frame.f_back
    return frame


def _leaked(pool_ref: weakref.ref[ObjectPool[Any]], dead: weakref.ref[Any]) -> None:
    """A checked-out object died. This runs inside the collection that freed it, which may
    have started in a thread holding the pool's lock (any allocation can start one): it
    never waits for the lock. It queues the death (an atomic append) and counts it now
    only if the lock is free; otherwise the next call into the pool does, and a thread
    waiting for a free object looks every `_REAP_EVERY` seconds."""
    pool = pool_ref()
    if pool is None:
        return
    pool._deaths.append(dead)
    if pool._lock.acquire(blocking=False):
        try:
            pool._reap()
        finally:
            pool._lock.release()
