"""`@profile` and `with profile("name")`: calls, durations and their percentiles, per name.

    @profile                      # the function's qualified name
    def handler(request): ...

    @profile("db.query", memory=True)   # net and peak traced bytes per call too
    async def query(sql): ...           # wall time across awaits, and it says so

    with profile("render"):
        ...

The hot path is two `perf_counter_ns` calls and an append to a deque (atomic, no lock);
whoever reads the stats, or the call that finds the deque long, folds the durations into
the counters and a bounded reservoir (Algorithm R) for p50/p95/p99. Exceptions count as
errors, cancellation (`asyncio.CancelledError`) as cancelled; both propagate untouched.
"""

from __future__ import annotations

import functools
import inspect
import math
import random
import sys
import threading
import tracemalloc
from collections import deque
from collections.abc import Callable
from time import perf_counter_ns
from types import TracebackType
from typing import Any, TypeVar, overload

from tui_perf.model.quantiles import nearest_rank
from tui_perf.model.snapshot import TimingStat

F = TypeVar("F", bound=Callable[..., Any])

RESERVOIR = 1024
_FOLD_AT = 4096
OK, ERROR, CANCELLED = 0, 1, 2


class Timing:
    """One name's measurements. `record` may be called from any thread."""

    def __init__(self, name: str, kind: str, reservoir: int = RESERVOIR) -> None:
        self.name = name
        self.kind = kind
        self._pending: deque[int] = deque()  # durations in ns, of calls that returned
        self._failed: deque[tuple[int, int]] = deque()  # (outcome, ns), rare
        self._fold = threading.Lock()
        self._rng = random.Random(0x5EED)
        self.size = reservoir
        self.calls = 0
        self.errors = 0
        self.cancelled = 0
        self.total_ns = 0
        self.max_ns = 0
        self.reservoir: list[int] = []
        self._w = 1.0
        self._next: int | None = None  # the call number the reservoir takes next
        self.mem_calls = 0
        self.mem_net_total = 0
        self.mem_peak_max = 0

    def fold(self, blocking: bool = True) -> None:
        """Move pending durations into the counters and the reservoir, in bulk."""
        if not self._fold.acquire(blocking=blocking):
            return  # a call found another thread folding: that one takes ours too
        try:
            pending, failed = self._pending, self._failed
            popleft = pending.popleft
            # popleft is atomic: a call appending meanwhile is taken now or next time
            self._add_batch([popleft() for _ in range(len(pending))])
            while failed:
                outcome, ns = failed.popleft()
                if outcome == ERROR:
                    self.errors += 1
                else:
                    self.cancelled += 1
                self._add_batch([ns])
        finally:
            self._fold.release()

    def _add_batch(self, batch: list[int]) -> None:
        """Counters with builtins; the reservoir by Li's Algorithm L, which draws random
        numbers only for the items it keeps (O(k log(n/k)) draws, not one per call)."""
        if not batch:
            return
        first = self.calls  # items are numbered first+1 .. first+len(batch)
        self.calls += len(batch)
        self.total_ns += sum(batch)
        self.max_ns = max(self.max_ns, max(batch))
        reservoir, size = self.reservoir, self.size
        room = size - len(reservoir)
        if room > 0:
            reservoir.extend(batch[:room])
            if len(reservoir) == size:
                self._next_skip(first + room)
        while self._next is not None and self._next <= self.calls:
            reservoir[self._rng.randrange(size)] = batch[self._next - first - 1]
            self._next_skip(self._next)

    def _next_skip(self, at: int) -> None:
        rng, size = self._rng, self.size
        self._w *= math.exp(math.log(rng.random() or 1e-300) / size)
        skip = math.floor(math.log(rng.random() or 1e-300) / math.log1p(-self._w))
        self._next = at + skip + 1

    def stat(self) -> TimingStat:
        self.fold()
        ordered = sorted(self.reservoir)
        calls = self.calls
        mem = self.mem_calls
        return TimingStat(
            name=self.name,
            kind=self.kind,
            calls=calls,
            errors=self.errors,
            cancelled=self.cancelled,
            total_s=self.total_ns / 1e9,
            mean_s=self.total_ns / calls / 1e9 if calls else 0.0,
            p50_s=nearest_rank(ordered, 50) / 1e9,
            p95_s=nearest_rank(ordered, 95) / 1e9,
            p99_s=nearest_rank(ordered, 99) / 1e9,
            max_s=self.max_ns / 1e9,
            mem_net_mean=self.mem_net_total // mem if mem else None,
            mem_peak_max=self.mem_peak_max if mem else None,
        )


class Timings:
    """Name -> `Timing`, for the process (`TIMINGS`), or one per test."""

    def __init__(self) -> None:
        self._by_name: dict[str, Timing] = {}
        self._lock = threading.Lock()
        self.notes: list[str] = []

    def get(self, name: str, kind: str) -> Timing:
        timing = self._by_name.get(name)
        if timing is None:
            with self._lock:
                timing = self._by_name.setdefault(name, Timing(name, kind))
        return timing

    def stats(self) -> list[TimingStat]:
        """Every name, most total time first."""
        out = [t.stat() for t in list(self._by_name.values())]
        out.sort(key=lambda s: (-s.total_s, s.name))
        return out

    def reset(self) -> None:
        with self._lock:
            self._by_name.clear()

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


TIMINGS = Timings()


# -- memory=True -----------------------------------------------------------------------

_mem_stack = threading.local()


def _ensure_tracing(timings: Timings) -> None:
    if tracemalloc.is_tracing():
        return
    factor = _tracing_cost()
    timings.note(
        f"@profile(memory=True) started tracemalloc: allocations ran {factor:.1f}x "
        "slower while traced (measured when it started)"
    )


def _tracing_cost() -> float:
    """Start tracemalloc, and measure how much slower small allocations got."""

    def churn() -> int:
        t0 = perf_counter_ns()
        for _ in range(20_000):
            [0] * 4  # noqa: B018 - an allocation is the point
        return perf_counter_ns() - t0

    before = min(churn() for _ in range(3))
    tracemalloc.start(1)
    after = min(churn() for _ in range(3))
    return after / before if before else 0.0


def _mem_enter() -> list[int]:
    current, peak = tracemalloc.get_traced_memory()
    stack: list[list[int]] | None = getattr(_mem_stack, "stack", None)
    if stack is None:
        stack = _mem_stack.stack = []
    # A call nested in another resets the peak its callers are watching: it hands them the
    # peak so far first, and the peak it saw on its exit (see _mem_exit).
    for outer in stack:
        if peak > outer[1]:
            outer[1] = peak
    tracemalloc.reset_peak()
    entry = [current, current]
    stack.append(entry)
    return entry


def _mem_exit(timing: Timing, entry: list[int]) -> None:
    current, peak = tracemalloc.get_traced_memory()
    stack: list[list[int]] = _mem_stack.stack
    if stack and stack[-1] is entry:
        stack.pop()
    peak = max(peak, entry[1])
    for outer in stack:
        if peak > outer[1]:
            outer[1] = peak
    with timing._fold:
        timing.mem_calls += 1
        timing.mem_net_total += current - entry[0]
        timing.mem_peak_max = max(timing.mem_peak_max, peak - entry[0])


# -- the decorator and the block ---------------------------------------------------------


class _Block:
    """What `profile(...)` returns: a decorator and a context manager."""

    __slots__ = ("_entries", "_starts", "memory", "name", "timings")

    def __init__(self, name: str | None, memory: bool, timings: Timings) -> None:
        self.name = name
        self.memory = memory
        self.timings = timings
        self._starts = threading.local()
        self._entries = threading.local()

    # as a decorator
    def __call__(self, fn: F) -> F:
        name = self.name or f"{fn.__module__}.{fn.__qualname__}"
        if inspect.iscoroutinefunction(fn):
            return _wrap_async(fn, self.timings.get(name, "async"), self.memory, self.timings)
        return _wrap_sync(fn, self.timings.get(name, "sync"), self.memory, self.timings)

    # as a block (re-entrant per thread: starts are a stack)
    def __enter__(self) -> _Block:
        if self.name is None:
            raise TypeError("with profile(...) needs a name: with profile('render'): ...")
        stack = getattr(self._starts, "s", None)
        if stack is None:
            stack = self._starts.s = []
        if self.memory:
            _ensure_tracing(self.timings)
            entries = getattr(self._entries, "s", None)
            if entries is None:
                entries = self._entries.s = []
            entries.append(_mem_enter())
        stack.append(perf_counter_ns())
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        ns = perf_counter_ns() - self._starts.s.pop()
        assert self.name is not None
        timing = self.timings.get(self.name, "sync")
        if self.memory:
            _mem_exit(timing, self._entries.s.pop())
        _record(timing, ns, _outcome(kind))


def _outcome(kind: type[BaseException] | None) -> int:
    if kind is None:
        return OK
    asyncio = sys.modules.get("asyncio")  # no asyncio loaded: nothing can be cancelled
    if asyncio is not None and issubclass(kind, asyncio.CancelledError):
        return CANCELLED
    return ERROR


def _record(timing: Timing, ns: int, outcome: int) -> None:
    if outcome == OK:
        timing._pending.append(ns)
    else:
        timing._failed.append((outcome, ns))
    if len(timing._pending) > _FOLD_AT:
        timing.fold(blocking=False)


def _wrap_sync(fn: F, timing: Timing, memory: bool, timings: Timings) -> F:
    pending = timing._pending
    if not memory:

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = perf_counter_ns()
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                _record(timing, perf_counter_ns() - t0, _outcome(type(exc)))
                raise
            pending.append(perf_counter_ns() - t0)
            if len(pending) > _FOLD_AT:
                timing.fold(blocking=False)
            return result

        return timed  # type: ignore[return-value]

    @functools.wraps(fn)
    def traced(*args: Any, **kwargs: Any) -> Any:
        _ensure_tracing(timings)
        entry = _mem_enter()
        t0 = perf_counter_ns()
        outcome = OK
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            outcome = _outcome(type(exc))
            raise
        finally:
            ns = perf_counter_ns() - t0
            _mem_exit(timing, entry)
            _record(timing, ns, outcome)

    return traced  # type: ignore[return-value]


def _wrap_async(fn: F, timing: Timing, memory: bool, timings: Timings) -> F:
    @functools.wraps(fn)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        entry = None
        if memory:
            _ensure_tracing(timings)
            entry = _mem_enter()
        t0 = perf_counter_ns()
        outcome = OK
        try:
            return await fn(*args, **kwargs)
        except BaseException as exc:
            outcome = _outcome(type(exc))
            raise
        finally:
            ns = perf_counter_ns() - t0
            if entry is not None:
                _mem_exit(timing, entry)
            _record(timing, ns, outcome)

    return timed  # type: ignore[return-value]


@overload
def profile(target: F, /) -> F: ...
@overload
def profile(
    target: str | None = None, /, *, memory: bool = False, timings: Timings | None = None
) -> _Block: ...
def profile(target: Any = None, /, *, memory: bool = False, timings: Timings | None = None) -> Any:
    """Time a function (`@profile`, `@profile("name")`) or a block (`with profile("n")`)."""
    registry = timings if timings is not None else TIMINGS
    if callable(target):
        return _Block(None, memory, registry)(target)
    if target is not None and not isinstance(target, str):
        raise TypeError(f"profile() takes a name or a function, got {target!r}")
    return _Block(target, memory, registry)
