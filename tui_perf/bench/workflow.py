"""One benchmark workflow: select, run, judge against the baseline, save; once, here.

`tui-perf bench` is `run_and_judge(request, progress)` and printing; `--ab` is `run_ab`. The
dashboard's `b` runs in two processes: the engine command (`bench.commands`) selects and
measures in the watched process with `matching`/`measure`, and the dashboard, which holds the
history file, judges and saves what comes back with `judge_results`. Both halves are the
same functions `run_and_judge` is made of, so a result reads the same wherever it was run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fnmatch
import secrets
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_perf.bench.baseline import (
    BaselineSpec,
    Noise,
    Sample,
    judge_sample,
    noise_floors,
    parse_baseline,
    select,
)
from tui_perf.bench.compare import MIN_NOISE_RUNS, UNCLEAR, Verdict, detect_step
from tui_perf.bench.outcome import ABOutcome, BenchOutcome, Notice
from tui_perf.bench.registry import Benchmark, BenchmarkError, load
from tui_perf.bench.runner import BenchRun, RunConfig, run_benchmarks
from tui_perf.model.errors import TuiPerfError
from tui_perf.model.snapshot import BenchResult
from tui_perf.store.history import BenchRunRow, HistoryStore

#: (the benchmark under way, values done, values in all): the whole run's progress
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class BenchRequest:
    """What to run and how to judge it: `tui-perf bench`'s arguments, checked."""

    targets: tuple[str, ...] = ()  # files or modules with @benchmark; () is the built-in suite
    filter: str | None = None  # a glob, or a substring of the name
    config: RunConfig = field(default_factory=RunConfig)
    threshold: float = 0.05  # the smallest change to call, as a fraction
    baseline: BaselineSpec = field(default_factory=lambda: parse_baseline(None))
    history: Path | None = None  # the history file; None: the default one
    save: bool = True
    host: str = field(default_factory=socket.gethostname)  # whose runs are a baseline


def matching(benches: Sequence[Benchmark], pattern: str | None) -> list[Benchmark]:
    if pattern is None:
        return list(benches)
    return [b for b in benches if fnmatch.fnmatch(b.name, pattern) or pattern in b.name]


def select_benchmarks(request: BenchRequest) -> list[Benchmark]:
    """The benchmarks of the request's targets (or the suite) that its filter matches."""
    from tui_perf.bench.suite import builtin

    try:
        benches = load(request.targets) if request.targets else builtin()
    except BenchmarkError as exc:
        raise TuiPerfError(str(exc)) from exc
    chosen = matching(benches, request.filter)
    if request.filter and not chosen:
        raise TuiPerfError(f"no benchmark matches --filter {request.filter!r}")
    return chosen


def measure(
    benches: Sequence[Benchmark], request: BenchRequest, progress: Progress | None = None
) -> list[BenchRun]:
    """Run them (values in fresh processes), telling `progress` the run's values so far."""
    total = len(benches) * request.config.total_values
    done: dict[str, int] = {}

    def step(name: str, i: int, n: int) -> None:
        done[name] = i
        if progress is not None:
            progress(name, sum(done.values()), total)

    if progress is not None and benches:
        progress(benches[0].name, 0, total)
    return run_benchmarks(benches, request.config, targets=request.targets, progress=step)


@dataclass(frozen=True, slots=True)
class Yardstick:
    """What a run is judged against, chosen from the history before it runs (so a baseline
    that is not there is said before minutes of measuring)."""

    label: str
    baseline: Mapping[str, Sample]
    noise: Mapping[str, Noise]
    threshold: float

    @classmethod
    def of(
        cls, rows: Sequence[BenchRunRow], names: Sequence[str], request: BenchRequest
    ) -> Yardstick:
        return cls(
            request.baseline.label,
            select(rows, request.baseline, names, request.host),
            noise_floors(rows, names, request.host),
            request.threshold,
        )

    def judge(self, runs: Sequence[BenchRun]) -> dict[str, Verdict]:
        verdicts = {}
        for run in runs:
            base = self.baseline.get(run.name)
            if run.error or base is None or not base.groups or not run.values:
                continue
            current = Sample(run.groups, run.refs or None)  # none: judged on raw times
            judged = judge_sample(
                run.name, base, current, self.noise[run.name], threshold=self.threshold
            )
            if judged is not None:
                verdicts[run.name] = judged
        return verdicts

    def noise_kept(self, name: str, verdict: Verdict | None) -> float | None:
        """The floor saved with a run: the one its verdict used, or the one history shows."""
        return verdict.noise if verdict is not None else self.noise[name].shown


def notices(
    runs: Sequence[BenchRun],
    verdicts: Mapping[str, Verdict],
    noise: Mapping[str, Noise],
    threshold: float,
    config: RunConfig,
) -> tuple[Notice, ...]:
    """When the machine, not the code, limits what can be called."""
    out = [Notice("warning", f"{run.name}: {warning}") for run in runs for warning in run.warnings]
    for name, known in noise.items():
        floor = known.shown
        if floor is not None and floor > threshold:
            out.append(
                Notice(
                    "warning",
                    f"{name}: this machine's run-to-run noise is ±{floor * 100:.1f}%, above the "
                    f"{threshold * 100:g}% threshold: only changes beyond ±{floor * 100:.1f}% "
                    "can be called here",
                )
            )
    wide = [v.name for v in verdicts.values() if (v.ci_high - v.ci_low) / 2 > threshold]
    if wide:
        out.append(
            Notice(
                "warning",
                f"{', '.join(wide)}: the 95% interval is wider than ±{threshold * 100:g}%, so a "
                f"{threshold * 100:g}% change cannot be called with {config.processes} processes "
                "here; raise --processes or the threshold",
            )
        )
    learning = [name for name, known in noise.items() if known.shown is None]
    if learning:
        more = " ..." if len(learning) > 4 else ""
        out.append(
            Notice(
                "note",
                f"noise floor: learned from {MIN_NOISE_RUNS} runs on this machine "
                f"(not yet for {', '.join(learning[:4])}{more})",
            )
        )
    if any(v.verdict == UNCLEAR for v in verdicts.values()):
        out.append(
            Notice(
                "note",
                "unclear: the interval crosses the threshold; rerun with more --processes to "
                "decide",
            )
        )
    return tuple(out)


async def keep(
    store: HistoryStore,
    runs: Sequence[BenchRun],
    verdicts: Mapping[str, Verdict],
    yardstick: Yardstick,
    run_id: str,
    meta: dict[str, Any],
    ts: float | None = None,
) -> None:
    """Every run that measured, into the history file, with the noise floor it was judged by."""
    for run in runs:
        if run.error or not run.values:
            continue
        s = run.summary
        await store.add_bench_run(
            run_id,
            run.name,
            run.group,
            run.loops,
            run.values,
            s.median,
            s.stdev,
            meta,
            ts=ts,
            sizes=run.sizes,
            noise=yardstick.noise_kept(run.name, verdicts.get(run.name)),
            refs=run.refs,
        )


def new_run_id() -> str:
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def run_and_judge(request: BenchRequest, progress: Progress | None = None) -> BenchOutcome:
    """`tui-perf bench`: select, judge against the history file's baseline, save, and read
    back each benchmark's past (its step changes; the chart)."""
    benches = select_benchmarks(request)
    return asyncio.run(_run_and_judge(request, benches, progress))


async def _run_and_judge(
    request: BenchRequest, benches: list[Benchmark], progress: Progress | None
) -> BenchOutcome:
    from tui_perf.bench.meta import run_metadata

    names = [b.name for b in benches]
    store = await HistoryStore.open(request.history)
    try:
        yardstick = Yardstick.of(await store.bench_runs(), names, request)
        runs = measure(benches, request, progress)
        verdicts = yardstick.judge(runs)
        code_dir = Path(request.targets[0]).resolve().parent if request.targets else None
        meta = {
            **run_metadata(code_dir),
            "gc_enabled": request.config.gc_enabled,
            "processes": request.config.processes,
            "values_per_process": request.config.values,
        }
        run_id = new_run_id()
        if request.save:
            await keep(store, runs, verdicts, yardstick, run_id, meta)
        history = {name: [r.median_s for r in await store.bench_runs(name=name)] for name in names}
    finally:
        await store.close()
    steps = [detect_step(name, medians) for name, medians in history.items()]
    return BenchOutcome(
        run_id,
        tuple(runs),
        verdicts,
        yardstick.noise,
        yardstick.label,
        meta,
        saved=request.save,
        history=history,
        steps=tuple(s for s in steps if s is not None and s.verdict != "same"),
        notices=notices(runs, verdicts, yardstick.noise, request.threshold, request.config),
    )


def as_run(result: BenchResult) -> BenchRun:
    """A result that came back on a snapshot, as the runner's run again."""
    return BenchRun(
        result.name,
        result.group,
        result.loops,
        list(result.values),
        sizes=list(result.sizes),
        refs=list(result.refs),
    )


async def judge_results(
    store: HistoryStore,
    results: Sequence[BenchResult],
    *,
    pid: int,
    timestamp: float,
    request: BenchRequest | None = None,
) -> BenchOutcome:
    """The dashboard's half of `b`: results the engine command measured in the watched
    process, judged against this history file as `run_and_judge` judges, then saved."""
    request = request or BenchRequest()
    runs = [as_run(r) for r in results]
    yardstick = Yardstick.of(await store.bench_runs(), [r.name for r in runs], request)
    verdicts = yardstick.judge(runs)
    run_id = f"dashboard-{timestamp:.0f}"
    meta = {"source": "dashboard", "pid": pid, "hostname": request.host}
    if request.save:
        await keep(store, runs, verdicts, yardstick, run_id, meta, ts=timestamp)
    return BenchOutcome(
        run_id, tuple(runs), verdicts, yardstick.noise, yardstick.label, meta, request.save
    )


def run_ab(
    request: BenchRequest, old: str, new: str, progress: Progress | None = None
) -> ABOutcome:
    """`--ab OLD NEW`: the two in alternating fresh processes, one verdict for NEW."""
    from tui_perf.bench.ab import run_ab as alternate

    def step(done: int, total: int, name: str) -> None:
        if progress is not None:
            progress(name, done, total)

    try:
        runs, verdict = alternate(
            request.targets, old, new, request.config, threshold=request.threshold, progress=step
        )
    except BenchmarkError as exc:
        raise TuiPerfError(str(exc)) from exc
    return ABOutcome(old, new, tuple(runs), verdict)


def parallel_speedups() -> list[dict[str, Any]]:
    """Threads and processes on CPU- and IO-bound work, with Amdahl's serial fraction."""
    from tui_perf.bench.suite import parallel_speedup

    out = []
    for kind, executor in (
        ("cpu", "threads"),
        ("cpu", "processes"),
        ("io", "threads"),
        ("io", "processes"),
    ):
        r = parallel_speedup(kind, executor)
        out.append(
            {
                "kind": kind,
                "executor": executor,
                "workers": list(r.workers),
                "seconds": list(r.seconds),
                "speedups": list(r.speedups),
                "serial_fraction": r.serial_fraction,
            }
        )
    return out
