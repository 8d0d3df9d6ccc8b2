"""The runner, on pyperf's model: calibrate, warm up, take values, keep them all.

Calibration doubles `loops` until one value takes at least `min_time` (100 ms by default),
so timer resolution and call overhead vanish in the value. Warm-up values are taken and
thrown away (caches, lazy imports, branch predictors). With `processes > 1` the values are
split over that many fresh worker processes, so one process's luck (its address-space
layout, hash seed, a neighbour's burst) does not decide the result.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tui_perf.bench.registry import Benchmark
from tui_perf.bench.stats import Summary, summarize
from tui_perf.model.errors import ConfigError

CV_WARNING = 0.10


@dataclass(frozen=True, slots=True)
class RunConfig:
    min_time: float = 0.1
    values: int = 20
    warmups: int = 1
    processes: int = 1
    gc_enabled: bool = True
    max_loops: int = 2**32

    def __post_init__(self) -> None:
        if self.min_time <= 0 or self.values < 2 or self.warmups < 0 or self.processes < 1:
            raise ConfigError("need min_time > 0, values >= 2, warmups >= 0, processes >= 1")

    @classmethod
    def quick(cls) -> RunConfig:
        return cls(min_time=0.01, values=10, warmups=1)


@dataclass
class BenchRun:
    """One benchmark's outcome in one run: its raw values, or the error that stopped it."""

    name: str
    group: str
    loops: int = 0
    values: list[float] = field(default_factory=list)  # seconds per loop
    error: str = ""
    wall_s: float = 0.0

    @property
    def summary(self) -> Summary:
        return summarize(self.values)

    @property
    def warnings(self) -> list[str]:
        if self.error or len(self.values) < 2:
            return []
        cv = self.summary.cv
        if cv > CV_WARNING:
            return [
                f"unstable: CV {cv * 100:.0f}% (above {CV_WARNING * 100:.0f}%); close "
                "other programs, use --processes, or raise the value count"
            ]
        return []


Timer = Callable[[int], float]
Progress = Callable[[str, int, int], None]


def make_timer(bench: Benchmark) -> Timer:
    """A function `timer(loops) -> seconds` for one benchmark."""
    fn, kwargs = bench.fn, dict(bench.kwargs)
    clock = time.perf_counter
    if bench.is_async:
        loop = asyncio.new_event_loop()
        if bench.takes_loops:

            def timer(loops: int) -> float:
                t0 = clock()
                loop.run_until_complete(fn(loops=loops, **kwargs))
                return clock() - t0
        else:

            async def many(loops: int) -> None:
                for _ in range(loops):
                    await fn(**kwargs)

            def timer(loops: int) -> float:
                t0 = clock()
                loop.run_until_complete(many(loops))
                return clock() - t0

        return timer
    if bench.takes_loops:

        def timer(loops: int) -> float:
            t0 = clock()
            fn(loops=loops, **kwargs)
            return clock() - t0

        return timer

    def plain_timer(loops: int) -> float:
        f, kw = fn, kwargs
        t0 = clock()
        for _ in range(loops):
            f(**kw)
        return clock() - t0

    return plain_timer


def calibrate(timer: Timer, min_time: float, max_loops: int = 2**32) -> int:
    """Double loops from 1 until one value takes at least `min_time` seconds.

    One call is made and thrown away first: a benchmark's first call often pays for
    imports or building its data, which would otherwise pass for a slow operation.
    """
    timer(1)
    loops = 1
    while True:
        if timer(loops) >= min_time or loops >= max_loops:
            return loops
        loops *= 2


def measure(
    bench: Benchmark,
    config: RunConfig,
    *,
    values: int | None = None,
    loops: int | None = None,
    progress: Progress | None = None,
) -> BenchRun:
    """Run one benchmark in this process. Exceptions become `BenchRun.error`."""
    run = BenchRun(bench.name, bench.group)
    t_start = time.perf_counter()
    gc_was = gc.isenabled()
    try:
        if not config.gc_enabled:
            gc.disable()
        timer = make_timer(bench)
        run.loops = loops or calibrate(timer, config.min_time, config.max_loops)
        for _ in range(config.warmups):
            timer(run.loops)
        count = values if values is not None else config.values
        for i in range(count):
            run.values.append(timer(run.loops) / run.loops)
            if progress is not None:
                progress(bench.name, i + 1, count)
    except Exception as exc:
        run.error = f"{type(exc).__name__}: {exc}"
        run.values = []
        tb = traceback.extract_tb(exc.__traceback__)
        if tb:
            last = tb[-1]
            run.error += f" (at {os.path.basename(last.filename)}:{last.lineno})"
    finally:
        if gc_was:
            gc.enable()
    run.wall_s = time.perf_counter() - t_start
    return run


def run_benchmarks(
    benches: Sequence[Benchmark],
    config: RunConfig,
    *,
    targets: Sequence[str] = (),
    progress: Progress | None = None,
) -> list[BenchRun]:
    """Run every benchmark; a failing one is reported and the others still run."""
    results = []
    for bench in benches:
        if config.processes > 1:
            results.append(_in_workers(bench, config, targets, progress))
        else:
            results.append(measure(bench, config, progress=progress))
    return results


def _in_workers(
    bench: Benchmark, config: RunConfig, targets: Sequence[str], progress: Progress | None
) -> BenchRun:
    """Calibrate here, then spread the values over fresh worker processes."""
    t0 = time.perf_counter()
    here = measure(bench, RunConfig(config.min_time, 2, 0, 1, config.gc_enabled), values=0)
    if here.error:
        return here
    per = max(1, -(-config.values // config.processes))
    run = BenchRun(bench.name, bench.group, loops=here.loops)
    for _ in range(config.processes):
        payload = json.dumps(
            {
                "targets": list(targets),
                "name": bench.name,
                "loops": here.loops,
                "values": per,
                "warmups": config.warmups,
                "gc": config.gc_enabled,
                "min_time": config.min_time,
            }
        )
        out = subprocess.run(
            [sys.executable, "-m", "tui_perf.bench.worker", payload], capture_output=True, text=True
        )
        if out.returncode != 0:
            run.error = (
                out.stderr.strip().splitlines()[-1]
                if out.stderr.strip()
                else (f"worker exited with {out.returncode}")
            )
            run.values = []
            break
        data = json.loads(out.stdout)
        if data["error"]:
            run.error, run.values = data["error"], []
            break
        run.values.extend(data["values"])
        if progress is not None:
            progress(bench.name, len(run.values), per * config.processes)
    run.wall_s = time.perf_counter() - t0
    return run
