"""The runner, on pyperf's model: calibrate, then spread the values over fresh processes.

Calibration doubles `loops` until one value takes at least `min_time`, so timer resolution
and call overhead vanish in the value. Then `processes` fresh worker processes each run every
benchmark (warm-up values thrown away, then `values` kept), the order rotated from process to
process so no benchmark always runs first. A process is the unit of evidence: each has its
own hash seed, address-space layout and neighbours, and values inside one process share
them, so the verdicts compare processes (see `compare.judge`), never values.
`processes=1` measures in this process, as one unit.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tui_perf.bench.reference import machine_time
from tui_perf.bench.registry import Benchmark
from tui_perf.bench.stats import Summary, summarize
from tui_perf.model.errors import ConfigError

CV_WARNING = 0.10


@dataclass(frozen=True, slots=True)
class RunConfig:
    """How a run is measured. `values` is per process."""

    min_time: float = 0.05
    values: int = 3
    warmups: int = 1
    processes: int = 6
    gc_enabled: bool = True
    max_loops: int = 2**32

    def __post_init__(self) -> None:
        if self.min_time <= 0 or self.values < 1 or self.warmups < 0 or self.processes < 1:
            raise ConfigError("need min_time > 0, values >= 1, warmups >= 0, processes >= 1")

    @classmethod
    def quick(cls) -> RunConfig:
        return cls(min_time=0.01, values=2, warmups=1, processes=4)

    @property
    def total_values(self) -> int:
        return self.values * self.processes


@dataclass
class BenchRun:
    """One benchmark's outcome in one run: its values per process, or the error that stopped it."""

    name: str
    group: str
    loops: int = 0
    values: list[float] = field(default_factory=list)  # seconds per loop, process after process
    error: str = ""
    wall_s: float = 0.0
    sizes: list[int] = field(default_factory=list)  # how many of `values` each process gave
    refs: list[float] = field(default_factory=list)  # each process's reference time, after it

    @property
    def groups(self) -> list[list[float]]:
        """The values split by the process that took them."""
        return split_groups(self.values, self.sizes)

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
                "other programs, or raise --processes"
            ]
        return []


def split_groups(values: Sequence[float], sizes: Sequence[int]) -> list[list[float]]:
    """Values cut into consecutive groups of the given sizes; no sizes: one group."""
    if not sizes or sum(sizes) != len(values):
        return [list(values)] if values else []
    out, at = [], 0
    for size in sizes:
        out.append(list(values[at : at + size]))
        at += size
    return [g for g in out if g]


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
    if config.processes == 1:
        runs = []
        for bench in benches:
            run = measure(bench, config, progress=progress)
            if run.values:
                run.sizes, run.refs = [len(run.values)], [machine_time()]
            runs.append(run)
        return runs
    # Calibration happens in the first worker too (loops 0: find them there), so nothing of
    # the benchmark's runs in this process: a benchmark that leaks, caches a connection or
    # kills its process does it to a worker.
    runs = [BenchRun(bench.name, bench.group) for bench in benches]
    live = [run.name for run in runs]
    by_name = {run.name: run for run in runs}
    for k in range(config.processes):
        order = live[k % len(live) :] + live[: k % len(live)] if live else []
        if not order:
            break
        started = time.perf_counter()
        results = spawn_worker(targets, order, {n: by_name[n].loops for n in order}, config)
        spent = time.perf_counter() - started
        for name in order:
            if name not in results:
                continue  # its worker died before reaching it: no value from that process
            run = by_name[name]
            result = results[name]
            run.wall_s += spent / len(order)
            if result.error:
                run.error, run.values, run.sizes, run.refs = result.error, [], [], []
                live.remove(name)
                continue
            run.loops = run.loops or result.loops
            run.values.extend(result.values)
            run.sizes.append(len(result.values))
            run.refs.append(result.reference)
            if progress is not None:
                progress(name, len(run.values), config.total_values)
    return runs


def calibrated(bench: Benchmark, config: RunConfig) -> BenchRun:
    """A run with its loops found here, in this process, and no values yet."""
    here = measure(bench, RunConfig(config.min_time, 1, 0, 1, config.gc_enabled), values=0)
    return BenchRun(bench.name, bench.group, loops=here.loops, error=here.error, wall_s=here.wall_s)


@dataclass(frozen=True, slots=True)
class WorkerResult:
    """One benchmark's outcome in one worker process."""

    values: list[float]
    reference: float  # the process's reference time: the median of every timing it took
    error: str
    loops: int  # what it used: the parent's, or what it calibrated (asked with 0)


def spawn_worker(
    targets: Sequence[str], names: Sequence[str], loops: dict[str, int], config: RunConfig
) -> dict[str, WorkerResult]:
    """Run the named benchmarks in one fresh process (loops 0: calibrate there first)."""
    payload = json.dumps(
        {
            "targets": list(targets),
            "names": list(names),
            "loops": loops,
            "values": config.values,
            "warmups": config.warmups,
            "gc": config.gc_enabled,
            "min_time": config.min_time,
        }
    )
    read_fd, write_fd = os.pipe()
    # stderr goes to a file, not a pipe: a benchmark that writes more than a pipe holds to
    # stderr would otherwise block while we wait for its result, and neither would move.
    with tempfile.TemporaryFile("w+", errors="replace") as errors:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tui_perf.bench.worker", payload, str(write_fd)],
                stdout=subprocess.DEVNULL,  # a benchmark's prints are not ours to show
                stderr=errors,
                pass_fds=(write_fd,),
            )
        except OSError as exc:
            os.close(read_fd)
            return {
                name: WorkerResult([], 0.0, f"cannot start a worker: {exc}", 0) for name in names
            }
        finally:
            os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            raw = pipe.read()
        proc.wait()
        errors.seek(0)
        stderr = errors.read()
    return _read_results(raw, names, proc.returncode, stderr)


def _read_results(
    raw: str, names: Sequence[str], returncode: int, stderr: str
) -> dict[str, WorkerResult]:
    """The worker's lines. The benchmark it was running when it died gets the error; the
    ones after it are absent (not measured in that process)."""
    done: dict[str, tuple[list[float], str, int]] = {}
    timings: list[float] = []
    for text in raw.splitlines():
        try:
            line = json.loads(text)
            values = [float(v) for v in line["values"]]
            done[str(line["name"])] = (values, str(line["error"]), int(line["loops"]))
            timings += [float(t) for t in line["reference"]]
        except (ValueError, KeyError, TypeError):
            continue  # a line something else wrote, or cut short by a death
    reference = statistics.median(timings) if timings else 0.0
    out = {
        name: WorkerResult(values, reference, error, loops)
        for name, (values, error, loops) in done.items()
    }
    missing = [name for name in names if name not in done]
    if missing:
        died = f"its worker process exited with {returncode}"
        lines = stderr.strip().splitlines()
        if lines:  # the last thing it said: often the exception, cut to one short line
            last = lines[-1].strip()
            died += f" ({last[:117] + '...' if len(last) > 120 else last})"
        out[missing[0]] = WorkerResult([], 0.0, died, 0)
    return out
