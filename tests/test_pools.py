"""ObjectPool and the aiosqlite ConnectionPool, on real threads and real SQLite files."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
from pathlib import Path

import pytest

from tests.helpers.scripted import FakeClock, MiB
from tui_perf.engine.memory import MemoryGuard
from tui_perf.engine.registry import Registry
from tui_perf.pools.connections import ConnectionPool
from tui_perf.pools.objects import ObjectPool, PoolError, PoolTimeout


class Buffer:
    def __init__(self) -> None:
        self.data: list[int] = []


def pool(**kw: object) -> ObjectPool[Buffer]:
    return ObjectPool(Buffer, registry=Registry(), name="buffers", **kw)  # type: ignore[arg-type]


def test_objects_are_reused_and_reset() -> None:
    p = pool(reset=lambda b: b.data.clear())
    with p.acquire() as first:
        first.data.append(1)
    with p.acquire() as second:
        assert second is first and second.data == []
    stats = p.stats()
    assert (stats.created, stats.reused, stats.reuse_rate) == (1, 1, 0.5)


def test_max_idle_bounds_what_is_kept() -> None:
    p = pool(max_idle=1)
    a, b = p.get(), p.get()
    p.put(a)
    p.put(b)
    assert p.idle == 1


def test_exhaustion_times_out_with_a_clear_error_and_marks_the_pool_unhealthy() -> None:
    p = pool(max_size=1)
    held = p.get()
    with pytest.raises(PoolTimeout, match=r"no object free within 0.05 s \(1 in use"):
        p.get(timeout=0.05)
    stats = p.stats()
    assert (stats.timeouts, stats.waits, stats.healthy) == (1, 1, False)
    assert "timeouts" in stats.reason
    p.put(held)


def test_a_waiter_gets_the_object_another_thread_returns() -> None:
    p = pool(max_size=1)
    held = p.get()
    got: list[Buffer] = []
    waiting = threading.Thread(target=lambda: got.append(p.get(timeout=10)))
    waiting.start()
    with p._cond:  # wait until the other thread is really waiting
        assert p._cond.wait_for(lambda: p.waits == 1, 10)
    p.put(held)
    waiting.join(10)
    assert got == [held]
    assert p.stats().wait_p95_ms > 0


def test_validation_discards_broken_objects() -> None:
    p = pool(validate=lambda b: not b.data)
    b = p.get()
    b.data.append(1)  # "broken": validate will refuse it
    p.put(b)
    fresh = p.get()
    assert fresh is not b and p.stats().discarded == 1


def test_a_leaked_object_is_counted_with_where_it_was_acquired() -> None:
    p = pool()
    obj = p.get()  # acquired on this line
    line = test_a_leaked_object_is_counted_with_where_it_was_acquired.__code__.co_firstlineno + 2
    del obj
    gc.collect()
    stats = p.stats()
    assert stats.leaks == 1 and stats.in_use == 0 and not stats.healthy
    assert f"test_pools.py:{line} in test_a_leaked_object" in stats.reason


def test_an_abandoned_acquire_block_returns_its_object_rather_than_leaking() -> None:
    p = pool()
    cm = p.acquire()
    cm.__enter__()
    del cm  # closing the generator runs its finally: the object goes back
    gc.collect()
    assert (p.leaks, p.in_use, p.idle) == (0, 0, 1)


def test_a_bytearray_held_too_long_is_reported_as_a_suspected_leak() -> None:
    """bytearray cannot be weakly referenced: its lease age is what reveals the leak."""
    clock = FakeClock()
    p = ObjectPool(
        lambda: bytearray(16), leak_after=10, clock=clock, registry=Registry(), name="bufs"
    )
    held = p.get()
    clock.advance(5)
    assert (p.stats().overdue, p.stats().healthy) == (0, True)
    clock.advance(6)
    stats = p.stats()
    assert (stats.overdue, stats.healthy) == (1, False)
    assert "held over 10 s" in stats.reason and "test_pools.py" in stats.reason
    p.put(held)
    assert (p.stats().overdue, p.stats().healthy) == (0, True)


def test_a_pool_exhausted_by_leaks_fails_within_its_timeout_instead_of_hanging() -> None:
    clock = FakeClock()
    p = ObjectPool(
        lambda: bytearray(16),
        max_size=1,
        timeout=0.05,
        leak_after=60,
        clock=clock,
        registry=Registry(),
        name="bufs",
    )
    p.get()  # never returned
    clock.advance(61)
    with pytest.raises(PoolTimeout, match=r"no object free within 0\.05 s"):
        p.get()  # no timeout given: the pool's own applies
    stats = p.stats()
    assert not stats.healthy and stats.overdue == 1


def test_double_release_and_foreign_objects_are_errors() -> None:
    p = pool()
    obj = p.get()
    p.put(obj)
    with pytest.raises(PoolError, match="released twice, or from another pool"):
        p.put(obj)
    with pytest.raises(PoolError):
        p.put(Buffer())


def test_the_ladder_drains_idle_objects_but_never_ones_in_use() -> None:
    registry = Registry()
    p = ObjectPool(Buffer, registry=registry, name="p")
    in_use = p.get()
    idle = [p.get() for _ in range(3)]
    for b in idle:
        p.put(b)
    guard = MemoryGuard(1000 * MiB, rss=lambda: 100 * MiB, registry=registry, clock=FakeClock())
    report = guard.emergency_cleanup()
    drained = next(r for r in report.rungs if r.name == "drain pools")
    assert drained.freed == 3
    assert p.in_use == 1 and p.idle == 0
    p.put(in_use)  # still ours to return
    assert p.idle == 1


def test_a_factory_that_fails_frees_its_slot() -> None:
    def broken() -> Buffer:
        raise OSError("no more")

    p = ObjectPool(broken, max_size=1, registry=Registry())
    for _ in range(2):
        with pytest.raises(OSError):
            p.get(timeout=0.01)
    assert p.stats().errors == 2 and p.in_use == 0


# -- ConnectionPool ------------------------------------------------------------------


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_connections_are_reused_and_queries_work(tmp_path: Path) -> None:
    async def main() -> None:
        p = await ConnectionPool(tmp_path / "db.sqlite", max_size=2, registry=Registry()).open()
        async with p.connection() as db:
            await db.execute("CREATE TABLE t (x)")
        for _ in range(5):
            async with p.connection() as db:
                await db.execute("INSERT INTO t VALUES (1)")
        async with p.connection() as db, db.execute("SELECT COUNT(*) FROM t") as cur:
            assert (await cur.fetchone()) == (5,)
        stats = p.stats()
        assert (stats.created, stats.requests, stats.reused) == (1, 7, 7)
        await p.close()

    run(main())


def test_exhaustion_times_out(tmp_path: Path) -> None:
    async def main() -> None:
        p = await ConnectionPool(
            tmp_path / "db.sqlite", max_size=1, acquire_timeout=0.05, registry=Registry()
        ).open()
        async with p.connection():
            with pytest.raises(PoolTimeout, match=r"no connection free within 0.05 s"):
                async with p.connection():
                    pass
        stats = p.stats()
        assert not stats.healthy
        assert (stats.waits, stats.timeouts) == (1, 1)  # waits: a count, as for ObjectPool
        await p.close()

    run(main())


def test_a_connection_closed_under_the_pool_is_replaced(tmp_path: Path) -> None:
    async def main() -> None:
        p = await ConnectionPool(tmp_path / "db.sqlite", registry=Registry()).open()
        async with p.connection() as db:
            first = db
        await first.close()  # dies while idle
        async with p.connection() as db, db.execute("SELECT 1") as cur:
            assert db is not first
            assert (await cur.fetchone()) == (1,)
        stats = p.stats()
        assert (stats.lost, stats.created) == (1, 2)
        await p.close()

    run(main())


def test_old_connections_are_recycled(tmp_path: Path) -> None:
    clock = FakeClock()

    async def main() -> None:
        p = await ConnectionPool(
            tmp_path / "db.sqlite", max_age=60, clock=clock, registry=Registry()
        ).open()
        async with p.connection() as db:
            first = db
        clock.advance(61)
        async with p.connection() as db:
            assert db is not first
        assert p.recycled == 1
        await p.close()

    run(main())


def test_an_open_transaction_is_rolled_back_on_return(tmp_path: Path) -> None:
    async def main() -> None:
        p = await ConnectionPool(tmp_path / "db.sqlite", registry=Registry()).open()
        async with p.connection() as db:
            await db.execute("CREATE TABLE t (x)")
        async with p.connection() as db:
            await db.execute("BEGIN")
            await db.execute("INSERT INTO t VALUES (1)")
        async with p.connection() as db:
            assert not db.in_transaction
            async with db.execute("SELECT COUNT(*) FROM t") as cur:
                assert (await cur.fetchone()) == (0,)
        await p.close()

    run(main())


def test_a_connection_closed_while_checked_out_frees_its_slot(tmp_path: Path) -> None:
    async def main() -> None:
        p = await ConnectionPool(tmp_path / "db.sqlite", max_size=1, registry=Registry()).open()
        for _ in range(3):  # with one slot, a leaked slot would time out the second time
            async with p.connection() as db:
                await db.close()  # the user closed it: returning it must not raise
        async with p.connection() as db, db.execute("SELECT 1") as cur:
            assert (await cur.fetchone()) == (1,)
        stats = p.stats()
        assert (stats.in_use, stats.timeouts, stats.healthy) == (0, 0, True)
        await p.close()

    run(main())


def test_a_task_cancelled_twice_during_rollback_frees_its_slot(tmp_path: Path) -> None:
    """The rollback waits behind a query we hold; the task is cancelled twice meanwhile."""
    release, busy = threading.Event(), threading.Event()

    async def main() -> None:
        p = await ConnectionPool(
            tmp_path / "db.sqlite", max_size=1, acquire_timeout=2, registry=Registry()
        ).open()
        async with p.connection() as db:
            await db.execute("CREATE TABLE t (x)")
        in_rollback = asyncio.Event()

        async def user() -> None:
            async with p.connection() as db:
                await db.create_function("block", 0, lambda: busy.set() or release.wait(10))
                await db.execute("BEGIN")
                await db.execute("INSERT INTO t VALUES (1)")
                # Occupy the connection's thread: the rollback on exit queues behind it.
                blocker.append(asyncio.ensure_future(db.execute("SELECT block()")))
                await asyncio.to_thread(busy.wait, 10)  # the thread is inside block() now
                in_rollback.set()

        blocker: list[asyncio.Future[object]] = []
        task = asyncio.create_task(user())
        await in_rollback.wait()
        for _ in range(5):
            await asyncio.sleep(0)  # let the task reach the rollback's await
        task.cancel()
        await asyncio.sleep(0)
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.gather(*blocker, return_exceptions=True)
        async with p.connection() as db, db.execute("SELECT COUNT(*) FROM t") as cur:
            assert (await cur.fetchone()) == (0,)  # the insert was never committed
        stats = p.stats()
        assert (stats.in_use, stats.timeouts, stats.healthy) == (0, 0, True)
        await p.close()

    run(main())


def test_a_connection_held_too_long_marks_the_pool_unhealthy(tmp_path: Path) -> None:
    clock = FakeClock()

    async def main() -> None:
        p = await ConnectionPool(
            tmp_path / "db.sqlite", leak_after=30, clock=clock, registry=Registry()
        ).open()
        async with p.connection():
            clock.advance(31)
            stats = p.stats()
            assert (stats.overdue, stats.healthy) == (1, False)
            assert "held over 30 s" in stats.reason
        assert p.stats().healthy
        await p.close()

    run(main())


def test_reconnects_with_backoff_until_the_file_can_be_opened(tmp_path: Path) -> None:
    path = tmp_path / "later" / "db.sqlite"
    delays: list[float] = []

    async def fake_sleep(delay: float) -> None:
        delays.append(delay)
        if len(delays) == 3:
            path.parent.mkdir()  # the volume comes back

    async def main() -> None:
        p = ConnectionPool(path, sleep=fake_sleep, backoff=(0.1, 0.3), registry=Registry())
        await p.open()
        async with p.connection() as db, db.execute("SELECT 1") as cur:
            assert (await cur.fetchone()) == (1,)
        assert p.stats().errors == 3
        await p.close()

    run(main())
    assert delays == [0.1, 0.2, 0.3]


def test_gives_up_with_the_reason_after_the_timeout(tmp_path: Path) -> None:
    async def no_wait(delay: float) -> None:
        await asyncio.sleep(0)

    async def main() -> None:
        p = ConnectionPool(
            tmp_path / "missing" / "db.sqlite",
            acquire_timeout=0.05,
            sleep=no_wait,
            registry=Registry(),
        )
        with pytest.raises(PoolTimeout, match=r"cannot open .*unable to open database file"):
            await p.open()

    caught: list[BaseException | None] = []
    hook, threading.excepthook = threading.excepthook, lambda a: caught.append(a.exc_value)
    try:
        before = set(threading.enumerate())
        for _ in range(40):  # the race is narrow: give it forty chances
            run(main())
        for thread in set(threading.enumerate()) - before:
            thread.join(2)
    finally:
        threading.excepthook = hook
    # The failed connections' threads were waited for while the loop was alive: none called
    # back into a closed loop ("Event loop is closed", in a thread, after the program ended).
    assert caught == []


def test_nearest_rank_reports_observed_values() -> None:
    from tui_perf.model.quantiles import nearest_rank

    values = [float(v) for v in range(1, 101)]  # 1..100
    assert [nearest_rank(values, p) for p in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert nearest_rank([7.0], 1) == 7.0
    assert nearest_rank([], 95) == 0.0
    assert nearest_rank([1.0, 2.0, 3.0], 50) == 2.0  # rank ceil(1.5) = 2


def test_an_object_reused_and_then_leaked_is_one_leak_at_its_last_acquire() -> None:
    """The weakref that sees a leak is made once per object and kept with it while idle:
    a return and a second checkout must neither report the first lease nor lose the second."""
    p = pool()
    obj = p.get()
    p.put(obj)
    assert p.stats().leaks == 0
    again, line = p.get(), sys._getframe().f_lineno  # the second acquire, on this line
    assert again is obj
    del obj, again
    gc.collect()
    stats = p.stats()
    assert (stats.leaks, stats.in_use, stats.idle) == (1, 0, 0)
    assert f"test_pools.py:{line} in test_an_object_reused" in stats.reason


def test_objects_the_pool_lets_go_are_not_leaks() -> None:
    p = pool(max_idle=1, validate=lambda b: not b.data)
    a, b, c = p.get(), p.get(), p.get()
    p.put(a)
    p.put(b)  # max_idle is 1: dropped by the pool
    c.data.append(1)
    p.put(c)  # kept? no: idle is full; dropped too
    broken = p.get()  # a, validated fine
    broken.data.append(1)
    p.put(broken)
    kept = p.get()  # a is refused by validation and discarded, a new one is made
    del a, b, c, broken
    gc.collect()
    stats = p.stats()
    assert (stats.leaks, stats.discarded, stats.in_use) == (0, 1, 1)
    p.put(kept)
    assert p.drain() == 1
    del kept
    gc.collect()
    assert p.stats().leaks == 0


def test_a_leak_through_acquire_names_the_with_statement() -> None:
    p = pool()
    cm = p.acquire()
    obj, line = cm.__enter__(), sys._getframe().f_lineno  # the caller's line, not the pool's
    code, where, _, _ = p._leases[id(obj)]
    assert (code.co_name, where) == ("test_a_leak_through_acquire_names_the_with_statement", line)
    cm.__exit__(None, None, None)
    assert p.stats().in_use == 0


def test_a_leak_found_by_a_collection_inside_the_pool_does_not_deadlock() -> None:
    """Leaked objects in reference cycles die in whichever collection frees them, which an
    allocation inside the pool's own lock can start: the leak must be counted, later, and
    the thread must not wait for the lock it holds."""

    class Cyclic:
        def __init__(self) -> None:
            self.me = self

    p: ObjectPool[Cyclic] = ObjectPool(Cyclic, max_idle=1000, registry=Registry())
    thresholds = gc.get_threshold()
    done = threading.Event()

    def churn() -> None:
        gc.set_threshold(1, 1, 1)  # a collection at nearly every allocation
        try:
            for _ in range(20):
                for _ in range(100):
                    # each one leaked when the next replaces it, in a cycle: only a
                    # collection frees it, most likely inside the next get()
                    leaked = p.get()
                held = [p.get() for _ in range(20)]
                for obj in held:
                    p.put(obj)
            del leaked
        finally:
            gc.set_threshold(*thresholds)
        done.set()

    worker = threading.Thread(target=churn, daemon=True)
    worker.start()
    worker.join(20)
    assert done.is_set(), "the pool deadlocked on its own lock"
    gc.collect()
    stats = p.stats()
    assert stats.leaks == 2000 and stats.in_use == 0
