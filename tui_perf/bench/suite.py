"""The built-in suite: what the dashboard cares about, measured the same way everywhere.

Heaps and databases a benchmark needs are built once per process, during calibration
(which is not measured), and reused by every value.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import gc
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tui_perf.bench.registry import REGISTERED, Benchmark, benchmark
from tui_perf.bench.stats import amdahl_fit

_SUITE_START = len(REGISTERED)
_state: dict[str, Any] = {}


def _hit_fn() -> Callable[[int], int]:
    if "hit" not in _state:
        from tui_perf.caches.decorator import cached
        from tui_perf.engine.registry import Registry

        @cached(registry=Registry())
        def double(x: int) -> int:
            return 2 * x

        double(7)
        _state["hit"] = double
    return _state["hit"]  # type: ignore[no-any-return]


@benchmark(group="cache")
def cache_hit(loops: int) -> None:
    f = _hit_fn()
    for _ in range(loops):
        f(7)


@benchmark(group="cache")
def cache_miss(loops: int) -> None:
    from tui_perf.caches.decorator import cached
    from tui_perf.engine.registry import Registry

    @cached(maxsize=128, registry=Registry())
    def double(x: int) -> int:
        return 2 * x

    for i in range(loops):
        double(i)  # every key is new: the miss path, compute and store, with evictions


@benchmark(group="pool")
def pool_acquire_release(loops: int) -> None:
    if "pool" not in _state:
        from tui_perf.engine.registry import Registry
        from tui_perf.pools.objects import ObjectPool

        _state["pool"] = ObjectPool(lambda: bytearray(4096), registry=Registry(), name="bench")
    pool = _state["pool"]
    get, put = pool.get, pool.put
    for _ in range(loops):
        put(get())


@benchmark(group="gc", params={"objects": [100_000]})
def gc_full_collection(loops: int, objects: int) -> None:
    """One full collection over a live heap of `objects` containers."""
    key = f"heap{objects}"
    if key not in _state:
        _state[key] = [{"i": i, "l": [i]} for i in range(objects // 2)]
    for _ in range(loops):
        gc.collect()


@benchmark(group="alloc")
def allocation(loops: int) -> None:
    for i in range(loops):
        _ = ({"k": i}, [i, i], (i, str(i)))


_DOC = {
    "id": 12345,
    "name": "tui-perf",
    "tags": ["a", "b", "c"],
    "ratio": 0.25,
    "nested": {"values": list(range(20)), "ok": True, "none": None},
}


@benchmark(group="serialize")
def json_round_trip(loops: int) -> None:
    dumps, loads = json.dumps, json.loads
    for _ in range(loops):
        loads(dumps(_DOC))


def _db() -> sqlite3.Connection:
    if "db" not in _state:
        folder = tempfile.mkdtemp(prefix="tui-perf-bench-")
        atexit.register(shutil.rmtree, folder, True)
        db = sqlite3.connect(os.path.join(folder, "bench.db"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE t (a INTEGER, b TEXT)")
        _state["db"] = db
    return _state["db"]  # type: ignore[no-any-return]


@benchmark(group="sqlite", params={"mode": ["single", "batched"]})
def sqlite_insert_100(loops: int, mode: str) -> None:
    """100 rows: a transaction each ("single") or one for all ("batched")."""
    db = _db()
    rows = [(i, "x" * 20) for i in range(100)]
    for _ in range(loops):
        if mode == "single":
            for row in rows:
                db.execute("INSERT INTO t VALUES (?, ?)", row)
        else:
            db.execute("BEGIN")
            db.executemany("INSERT INTO t VALUES (?, ?)", rows)
            db.execute("COMMIT")
    db.execute("DELETE FROM t")


SUITE: list[Benchmark] = REGISTERED[_SUITE_START:]


def builtin() -> list[Benchmark]:
    return list(SUITE)


# -- parallel speedup, with the serial fraction fitted rather than assumed -------------


def _cpu_task(n: int = 150_000) -> int:
    return sum(i * i for i in range(n))


def _io_task(seconds: float = 0.02) -> float:
    time.sleep(seconds)  # stands for waiting on a socket or a disk
    return seconds


@dataclass(frozen=True, slots=True)
class Speedup:
    kind: str
    executor: str
    workers: tuple[int, ...]
    seconds: tuple[float, ...]
    speedups: tuple[float, ...]
    serial_fraction: float


def fit_amdahl(workers: list[int], speedups: list[float]) -> float:
    """Serial fraction s from Amdahl's law, 1/S(n) = s + (1 - s)/n, by least squares."""
    return amdahl_fit(workers, [1 / s for s in speedups]).serial


def parallel_speedup(
    kind: str, executor: str, max_workers: int | None = None, tasks: int = 8
) -> Speedup:
    """Time `tasks` CPU-bound or I/O-bound tasks over 1..max_workers threads or processes."""
    task = {"cpu": _cpu_task, "io": _io_task}[kind]
    max_workers = max_workers or min(4, (os.cpu_count() or 1) * 2)
    counts = list(range(1, max_workers + 1))
    seconds = []
    pool_cls = cf.ThreadPoolExecutor if executor == "threads" else cf.ProcessPoolExecutor
    for n in counts:
        with pool_cls(max_workers=n) as pool:
            list(pool.map(_noop, range(n)))  # start the workers before the clock does
            t0 = time.perf_counter()
            list(pool.map(task, [_default_arg(kind)] * tasks))
            seconds.append(time.perf_counter() - t0)
    speedups = [seconds[0] / s for s in seconds]
    return Speedup(
        kind, executor, tuple(counts), tuple(seconds), tuple(speedups), fit_amdahl(counts, speedups)
    )


def _noop(_: int) -> None:
    return None


def _default_arg(kind: str) -> Any:
    return 150_000 if kind == "cpu" else 0.02
