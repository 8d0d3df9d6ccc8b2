"""Benchmark an optimisation: two implementations measured interleaved, one verdict.

Processes alternate OLD, NEW, NEW, OLD, OLD, NEW... (ABBA), so a drift on the machine (a
neighbour starting, the CPU warming) lands on both sides alike instead of on whichever ran
second. Each process is one unit of evidence for `compare.judge`, with the threshold but no
history noise floor: both sides were measured in the same minutes.

    verdict = compare_functions(old_parse, new_parse, payload)
    print(verdict.text)   # "faster: -23% [-25..-21], beyond the 5% threshold (...)"
"""

from __future__ import annotations

import functools
import gc
import inspect
import multiprocessing
import time
from collections.abc import Callable, Sequence
from typing import Any

from tui_perf.bench.compare import Verdict, judge
from tui_perf.bench.lookup import find
from tui_perf.bench.registry import Benchmark, BenchmarkError
from tui_perf.bench.runner import BenchRun, RunConfig, calibrated, make_timer, spawn_worker

#: which side each successive process measures: 0 is OLD, 1 is NEW
ABBA = (0, 1, 1, 0)

ABProgress = Callable[[int, int, str], None]


def run_ab(
    targets: Sequence[str],
    old: str,
    new: str,
    config: RunConfig,
    *,
    threshold: float = 0.05,
    progress: ABProgress | None = None,
) -> tuple[list[BenchRun], Verdict | None]:
    """OLD and NEW (benchmarks or plain functions in `targets`) in alternating processes."""
    runs = [BenchRun(find(targets, name).name, "ab") for name in (old, new)]
    total = 2 * config.processes
    for k in range(total):
        if any(r.error for r in runs):
            return runs, None
        run = runs[ABBA[k % 4]]
        started = time.perf_counter()
        result = spawn_worker(targets, [run.name], {run.name: run.loops}, config)[run.name]
        run.wall_s += time.perf_counter() - started
        if result.error:
            run.error = result.error
            continue
        run.loops = run.loops or result.loops
        run.values.extend(result.values)
        run.sizes.append(len(result.values))
        if progress is not None:
            progress(k + 1, total, run.name)
    if any(r.error for r in runs):
        return runs, None
    verdict = judge(
        f"{new} vs {old}", runs[0].groups, runs[1].groups, threshold=threshold, interleaved=True
    )
    return runs, verdict


def compare_functions(
    old: Callable[..., Any],
    new: Callable[..., Any],
    *args: Any,
    processes: int = 6,
    values: int = 3,
    min_time: float = 0.05,
    threshold: float = 0.05,
    **kwargs: Any,
) -> Verdict:
    """Time `old(*args, **kwargs)` against `new(*args, **kwargs)`; the verdict is for `new`.

    When both functions live in an importable module (not `__main__`), each unit is a fresh
    process (spawned, so the functions and arguments must pickle). Otherwise (lambdas,
    closures, a script's own functions) the units are alternating rounds in this process,
    which share its luck; the verdict says so (`unit == "rounds"`). A function that raises
    while being timed raises `BenchmarkError` naming it.
    """
    config = RunConfig(min_time=min_time, values=values, warmups=1, processes=processes)
    benches = [_as_benchmark(fn, args, kwargs) for fn in (old, new)]
    runs = [calibrated(b, config) for b in benches]
    for run in runs:
        if run.error:  # the caller's function raised: say which and why, as a BenchmarkError
            raise BenchmarkError(f"{run.name} raised while being timed: {run.error}")
    loops = [run.loops for run in runs]
    in_processes = all(_importable(fn) for fn in (old, new))
    groups: list[list[list[float]]] = [[], []]
    ctx = multiprocessing.get_context("spawn")
    for k in range(2 * processes):
        side = ABBA[k % 4]
        fn = (old, new)[side]
        if in_processes:
            with ctx.Pool(1) as pool:
                taken = pool.apply(_measure_here, (fn, args, kwargs, loops[side], config))
        else:
            taken = _measure_here(fn, args, kwargs, loops[side], config)
        groups[side].append(taken)
    name = f"{getattr(new, '__name__', 'new')} vs {getattr(old, '__name__', 'old')}"
    return judge(
        name,
        groups[0],
        groups[1],
        threshold=threshold,
        unit="processes" if in_processes else "rounds",
        interleaved=True,
    )


def _as_benchmark(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Benchmark:
    bound = functools.partial(fn, *args, **kwargs)
    return Benchmark(
        getattr(fn, "__name__", "fn"), "ab", bound, False, inspect.iscoroutinefunction(fn)
    )


def _importable(fn: Callable[..., Any]) -> bool:
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", "")
    return bool(module) and module != "__main__" and "<" not in qualname


def _measure_here(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    loops: int,
    config: RunConfig,
) -> list[float]:
    """Warm up, then `config.values` per-loop times (module level, so a spawned child runs it)."""
    timer = make_timer(_as_benchmark(fn, args, kwargs))
    gc_was = gc.isenabled()
    try:
        if not config.gc_enabled:
            gc.disable()
        for _ in range(config.warmups):
            timer(loops)
        return [timer(loops) / loops for _ in range(config.values)]
    finally:
        if gc_was:
            gc.enable()
