"""`@profile` and `with profile(...)`: def, async def, blocks, errors, cancellation, memory."""

from __future__ import annotations

import asyncio
import threading
import tracemalloc
from collections.abc import Iterator

import pytest

from tui_perf.model.snapshot import TimingStat
from tui_perf.profile.timings import RESERVOIR, Timings, profile


@pytest.fixture
def timings() -> Timings:
    return Timings()


def stat(timings: Timings, name: str) -> TimingStat:
    (found,) = [s for s in timings.stats() if s.name == name]
    return found


def test_a_plain_def_is_timed_under_its_qualified_name(timings: Timings) -> None:
    @profile(timings=timings)
    def add(a: int, b: int) -> int:
        return a + b

    assert [add(i, 1) for i in range(5)] == [1, 2, 3, 4, 5]
    assert add.__name__ == "add"  # wraps keeps the function's identity
    s = stat(timings, f"{__name__}.{add.__qualname__}")
    assert (s.calls, s.errors, s.cancelled, s.kind) == (5, 0, 0, "sync")
    assert 0 < s.p50_s <= s.p95_s <= s.p99_s <= s.max_s
    assert s.mean_s == pytest.approx(s.total_s / 5)


def test_the_bare_decorator_uses_the_global_table() -> None:
    @profile
    def noop() -> None:
        return None

    noop()
    from tui_perf.profile.timings import TIMINGS

    assert any(s.name.endswith("noop") and s.calls >= 1 for s in TIMINGS.stats())


def test_exceptions_count_as_errors_and_propagate_untouched(timings: Timings) -> None:
    @profile("parse", timings=timings)
    def parse(text: str) -> int:
        return int(text)

    assert parse("4") == 4
    with pytest.raises(ValueError, match="invalid literal") as caught:
        parse("x")
    assert caught.traceback[-1].name == "parse"  # the user's frame, not a re-raise of ours
    s = stat(timings, "parse")
    assert (s.calls, s.errors, s.cancelled) == (2, 1, 0)


async def test_async_def_is_wall_time_across_awaits_and_says_so(timings: Timings) -> None:
    gate = asyncio.Event()

    @profile("fetch", timings=timings)
    async def fetch() -> str:
        await gate.wait()
        return "done"

    task = asyncio.create_task(fetch())
    for _ in range(3):
        await asyncio.sleep(0)  # the task is suspended on the gate; time passes for it
    loop = asyncio.get_running_loop()
    opened = loop.time()
    gate.set()
    assert await task == "done"
    s = stat(timings, "fetch")
    assert s.kind == "async" and s.calls == 1
    assert s.total_s > 0 and opened > 0


async def test_cancellation_is_counted_apart_from_errors(timings: Timings) -> None:
    started = asyncio.Event()

    @profile("slow", timings=timings)
    async def slow() -> None:
        started.set()
        await asyncio.Event().wait()

    @profile("broken", timings=timings)
    async def broken() -> None:
        raise KeyError("k")

    task = asyncio.create_task(slow())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(KeyError):
        await broken()
    assert (stat(timings, "slow").cancelled, stat(timings, "slow").errors) == (1, 0)
    assert (stat(timings, "broken").errors, stat(timings, "broken").cancelled) == (1, 0)


def test_blocks_nest_and_count_errors(timings: Timings) -> None:
    block = profile("block", timings=timings)
    with block, block:  # re-entrant: each level timed
        pass
    with pytest.raises(RuntimeError), profile("block", timings=timings):
        raise RuntimeError("inside")
    s = stat(timings, "block")
    assert (s.calls, s.errors) == (3, 1)
    with pytest.raises(TypeError, match="needs a name"), profile(timings=timings):
        pass


def test_the_reservoir_is_bounded_and_counts_stay_exact(timings: Timings) -> None:
    @profile("many", timings=timings)
    def many() -> None:
        return None

    for _ in range(20_000):
        many()
    timing = timings.get("many", "sync")
    s = timing.stat()
    assert s.calls == 20_000
    assert len(timing.reservoir) == RESERVOIR


def test_calls_from_many_threads_are_all_counted(timings: Timings) -> None:
    @profile("shared", timings=timings)
    def shared() -> None:
        return None

    def hammer() -> None:
        for _ in range(5_000):
            shared()

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stat(timings, "shared").calls == 20_000


@pytest.fixture
def no_tracing() -> Iterator[None]:
    was = tracemalloc.is_tracing()
    if was:
        tracemalloc.stop()
    yield
    if tracemalloc.is_tracing() and not was:
        tracemalloc.stop()


def test_memory_true_records_net_and_peak_and_says_it_started_tracing(
    timings: Timings, no_tracing: None
) -> None:
    keep: list[bytearray] = []

    @profile("alloc", memory=True, timings=timings)
    def alloc() -> None:
        scratch = bytearray(4_000_000)  # peak only: freed on return
        del scratch
        keep.append(bytearray(1_000_000))  # net: kept

    @profile("outer", memory=True, timings=timings)
    def outer() -> None:
        big = bytearray(8_000_000)
        del big
        alloc()  # resets the peak outer watches: the peaks before and inside are handed up

    outer()
    assert tracemalloc.is_tracing()
    inner, whole = stat(timings, "alloc"), stat(timings, "outer")
    assert inner.mem_net_mean is not None and 1_000_000 <= inner.mem_net_mean < 1_200_000
    assert inner.mem_peak_max is not None and 4_000_000 <= inner.mem_peak_max < 5_500_000
    assert whole.mem_peak_max is not None and whole.mem_peak_max >= 8_000_000
    assert whole.mem_net_mean is not None and 1_000_000 <= whole.mem_net_mean < 1_200_000
    (note,) = timings.notes
    assert "started tracemalloc" in note and "slower" in note
