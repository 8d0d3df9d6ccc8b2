"""`tui-perf bench`: run benchmarks over fresh processes, keep them, judge them.

Exit codes: 0 all well; 1 a benchmark got slower (its whole interval beyond the threshold,
--fail-on-regression percent, 5 by default, and beyond the noise floor); 2 bad input or a
benchmark that raised (the others still run and are saved). `bench history` and `bench
export` live in `bench_history`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import fnmatch
import json
import math
import secrets
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.markup import escape as esc

from tui_perf.bench.baseline import Noise
from tui_perf.bench.compare import SLOWER, UNCLEAR, Verdict, detect_step
from tui_perf.bench.registry import Benchmark, BenchmarkError, load
from tui_perf.bench.runner import BenchRun, RunConfig, run_benchmarks
from tui_perf.cli.bench_history import _ansi, history_chart
from tui_perf.cli.parser import add_history_option
from tui_perf.model.errors import TuiPerfError
from tui_perf.model.format import fmt_percent, fmt_seconds

EXIT_OK, EXIT_REGRESSION, EXIT_BAD = 0, 1, 2


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="run benchmarks, keep their history, and judge regressions",
        description="Run benchmarks (yours, or the built-in suite) spread over fresh "
        "processes, save them to the history, and compare with a baseline: a change is "
        "called only when its whole 95% interval lies beyond the threshold and beyond the "
        "noise this machine showed in earlier runs. Also: 'tui-perf bench history [NAME]', "
        "'tui-perf bench export --format json|csv', and 'tui-perf bench FILE --ab OLD NEW'.",
        epilog="Exit codes: 0 fine, 1 slower beyond the threshold and the noise, 2 bad input "
        "or a failing benchmark.",
    )
    p.add_argument(
        "targets",
        nargs="*",
        metavar="PATH_OR_MODULE",
        help="files or modules with @benchmark functions (default: the suite)",
    )
    p.add_argument("--suite", choices=["builtin"], help="run the built-in suite")
    p.add_argument(
        "--filter",
        metavar="PATTERN",
        help="only benchmarks whose name matches (glob, or a substring)",
    )
    p.add_argument(
        "--baseline",
        metavar="last:N|latest|RUN_ID|FILE.json",
        help="compare with the last N runs pooled (default last:5), the latest run, one run, "
        "or a --json file",
    )
    p.add_argument(
        "--fail-on-regression",
        type=float,
        metavar="PCT",
        default=None,
        help="the smallest change to call, in percent (default 5); slower beyond it exits 1",
    )
    p.add_argument(
        "--ab",
        nargs=2,
        metavar=("OLD", "NEW"),
        help="compare two functions (or benchmarks) of FILE in alternating processes",
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    p.add_argument(
        "--processes",
        type=int,
        default=None,
        metavar="N",
        help="fresh processes to spread the values over (default 6, --quick 4; 1: this one)",
    )
    p.add_argument(
        "--values",
        type=int,
        default=None,
        metavar="N",
        help="values kept per process (default 3, --quick 2)",
    )
    p.add_argument("--quick", action="store_true", help="shorter values, fewer processes")
    p.add_argument("--no-gc", action="store_true", help="run with the garbage collector off")
    add_history_option(p)
    p.add_argument("--no-save", action="store_true", help="do not write this run to history")


# -- running ---------------------------------------------------------------------------


def _select(args: argparse.Namespace) -> list[Benchmark]:
    from tui_perf.bench.suite import builtin

    if args.targets and args.suite:
        raise TuiPerfError("give benchmark files or --suite builtin, not both")
    benches = load(args.targets) if args.targets else builtin()
    if args.filter:
        pattern = args.filter
        benches = [b for b in benches if fnmatch.fnmatch(b.name, pattern) or pattern in b.name]
        if not benches:
            raise TuiPerfError(f"no benchmark matches --filter {pattern!r}")
    return benches


def _config(args: argparse.Namespace) -> RunConfig:
    base = RunConfig.quick() if args.quick else RunConfig()
    for flag in ("processes", "values"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise TuiPerfError(f"--{flag} must be 1 or more, got {value}")
    return RunConfig(
        base.min_time,
        args.values or base.values,
        base.warmups,
        args.processes or base.processes,
        gc_enabled=not args.no_gc,
    )


def cmd_bench(args: argparse.Namespace) -> int:
    from tui_perf.bench.baseline import parse_baseline

    if args.fail_on_regression is not None and not 0 <= args.fail_on_regression < math.inf:
        raise TuiPerfError("--fail-on-regression must be 0 or more percent")
    config = _config(args)
    if args.ab:
        return _cmd_ab(args, config)
    spec = parse_baseline(args.baseline)
    try:
        benches = _select(args)
    except BenchmarkError as exc:
        raise TuiPerfError(str(exc)) from exc
    return asyncio.run(_bench(args, benches, config, spec))


def _threshold(args: argparse.Namespace) -> float:
    return (5.0 if args.fail_on_regression is None else args.fail_on_regression) / 100


async def _bench(
    args: argparse.Namespace, benches: list[Benchmark], config: RunConfig, spec: Any
) -> int:
    from rich.console import Console

    from tui_perf.bench.baseline import Sample, judge_sample, noise_floors, select
    from tui_perf.bench.meta import run_metadata
    from tui_perf.store.history import HistoryStore

    # Piped to a file, rich would cut the table at 80 columns.
    console = Console(stderr=False, width=None if sys.stdout.isatty() else 160)
    host = socket.gethostname()
    names = [b.name for b in benches]
    threshold = _threshold(args)
    store = await HistoryStore.open(args.history)
    try:
        rows = await store.bench_runs()
        baseline = select(rows, spec, names, host)
        noise = noise_floors(rows, names, host)
        runs = _run_with_progress(benches, config, args.targets, console)
        verdicts: dict[str, Verdict] = {}
        for run in runs:
            if run.error or not baseline.get(run.name) or not baseline[run.name].groups:
                continue
            judged = judge_sample(
                run.name,
                baseline[run.name],
                Sample(run.groups, run.refs),
                noise[run.name],
                threshold=threshold,
            )
            if judged is not None:
                verdicts[run.name] = judged
        run_id = dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
        code_dir = Path(args.targets[0]).resolve().parent if args.targets else None
        meta = {
            **run_metadata(code_dir),
            "gc_enabled": config.gc_enabled,
            "processes": config.processes,
            "values_per_process": config.values,
        }
        if not args.no_save:
            for run in runs:
                if not run.error:
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
                        sizes=run.sizes,
                        noise=verdicts[run.name].noise
                        if run.name in verdicts
                        else noise[run.name].shown,
                        refs=run.refs,
                    )
        history = {name: [r.median_s for r in await store.bench_runs(name=name)] for name in names}
    finally:
        await store.close()

    _print_results(console, runs, verdicts, noise, spec.label, run_id if not args.no_save else None)
    _print_warnings(console, runs, verdicts, noise, threshold, config)
    _print_history(console, history)
    _print_worker_advice(console, runs)
    parallel = None
    if not args.targets and not args.quick and not args.filter:
        parallel = _print_parallel(console)
    if args.json:
        _write_json(args.json, run_id, meta, runs, verdicts, noise, parallel)
    failed = [r for r in runs if r.error]
    code = EXIT_BAD if failed else EXIT_OK
    if not failed and any(v.verdict == SLOWER for v in verdicts.values()):
        code = EXIT_REGRESSION
    console.print(
        esc(summary_line(code, runs, verdicts, spec.label, not args.no_save)), highlight=False
    )
    for run in failed:
        print(f"tui-perf: error: benchmark {run.name} failed: {run.error}", file=sys.stderr)
    return code


def summary_line(
    code: int,
    runs: list[BenchRun],
    verdicts: dict[str, Verdict],
    label: str,
    saved: bool = True,
) -> str:
    """The last line: the exit code and why, so a CI log says it without scrolling."""
    if code == EXIT_BAD:
        failed = [r.name for r in runs if r.error]
        return f"exit {code}: {len(failed)} benchmark(s) failed: {', '.join(failed)}"
    if code == EXIT_REGRESSION:
        slower = [
            f"{v.name} {v.change_percent:+.1f}% {v.interval}"
            for v in verdicts.values()
            if v.verdict == SLOWER
        ]
        return f"exit {code}: slower than {label}: {'; '.join(slower)}"
    if not verdicts:
        kept = "saved for next time" if saved else "not saved: --no-save"
        return f"exit {code}: no baseline yet ({len(runs)} measured, {kept})"
    counts: dict[str, int] = {}
    for v in verdicts.values():
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    said = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    return f"exit {code}: nothing slower than {label} ({said})"


def _progress_bar(console: Any) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[current]}"),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _run_with_progress(
    benches: list[Benchmark], config: RunConfig, targets: Sequence[str], console: Any
) -> list[BenchRun]:
    with _progress_bar(console) as progress:
        total = len(benches) * config.total_values
        task = progress.add_task("benchmarks", total=total, current="")
        done: dict[str, int] = {}

        def step(name: str, i: int, n: int) -> None:
            done[name] = i
            progress.update(task, completed=sum(done.values()), current=name)

        return run_benchmarks(benches, config, targets=targets, progress=step)


def _colour(verdict: str) -> str:
    return {"slower": "red", "faster": "green", "unclear": "yellow"}.get(verdict, "dim")


def _verdict_cell(v: Verdict | None) -> str:
    if v is None:
        return "[dim]no baseline[/]"
    return f"[{_colour(v.verdict)}]{v.verdict} {v.change_percent:+.1f}%[/]"


def _noise_text(noise: Noise) -> str:
    floor, runs = noise.shown, noise.runs
    if floor is not None:
        return f"±{fmt_percent(floor)}"
    return f"[dim]{runs} run{'s' * (runs != 1)}[/]"


def _print_results(
    console: Any,
    runs: list[BenchRun],
    verdicts: dict[str, Verdict],
    noise: dict[str, Noise],
    baseline: str,
    run_id: str | None,
) -> None:
    """The table, then one line per verdict saying why, in full."""
    from rich.table import Table

    table = Table(
        title=f"benchmarks{f' · run {run_id}' if run_id else ''} · against {baseline}",
        title_justify="left",
    )
    table.add_column("benchmark", no_wrap=True)
    for col in ("median", "± MAD", "noise", "procs x values", "vs baseline"):
        table.add_column(col, justify="right", no_wrap=True)
    for run in runs:
        if run.error:
            table.add_row(esc(run.name), "[red]failed[/]", "", "", "", "")
            continue
        s = run.summary
        per = sorted(set(run.sizes))
        table.add_row(
            esc(run.name),
            fmt_seconds(s.median),
            fmt_seconds(s.mad),
            _noise_text(noise[run.name]),
            f"{len(run.sizes)} x {per[0] if len(per) == 1 else s.n}",
            _verdict_cell(verdicts.get(run.name)),
        )
    console.print(table)
    width = max((len(name) for name in verdicts), default=0)
    for name, v in verdicts.items():
        console.print(
            f"  {esc(name.ljust(width))}  [{_colour(v.verdict)}]{esc(v.text)}[/]", highlight=False
        )


def _print_warnings(
    console: Any,
    runs: list[BenchRun],
    verdicts: dict[str, Verdict],
    noise: dict[str, Noise],
    threshold: float,
    config: RunConfig,
) -> None:
    """Say when the machine, not the code, limits what can be called."""
    from tui_perf.bench.compare import MIN_NOISE_RUNS

    for run in runs:
        for warning in run.warnings:
            console.print(f"[yellow]warning:[/] {esc(run.name)}: {esc(warning)}")
    for name, known in noise.items():
        floor = known.shown
        if floor is not None and floor > threshold:
            console.print(
                f"[yellow]warning:[/] {esc(name)}: this machine's run-to-run noise is "
                f"±{floor * 100:.1f}%, above the {threshold * 100:g}% threshold: only changes "
                f"beyond ±{floor * 100:.1f}% can be called here"
            )
    wide = [v for v in verdicts.values() if (v.ci_high - v.ci_low) / 2 > threshold]
    if wide:
        console.print(
            f"[yellow]warning:[/] {esc(', '.join(v.name for v in wide))}: the 95% interval is "
            f"wider than ±{threshold * 100:g}%, so a {threshold * 100:g}% change cannot be called "
            f"with {config.processes} processes here; raise --processes or the threshold"
        )
    learning = [name for name, known in noise.items() if known.shown is None]
    if learning:
        console.print(
            f"[dim]noise floor: learned from {MIN_NOISE_RUNS} runs on this machine "
            f"(not yet for {esc(', '.join(learning[:4]))}{' ...' if len(learning) > 4 else ''})[/]"
        )
    if any(v.verdict == UNCLEAR for v in verdicts.values()):
        console.print(
            "[dim]unclear: the interval crosses the threshold; rerun with more --processes "
            "to decide[/]"
        )


def _print_history(console: Any, history: dict[str, list[float]]) -> None:
    for name, medians in history.items():
        step = detect_step(name, medians)
        if step is not None and step.verdict != "same":
            console.print(
                f"[bold]step change:[/] {esc(name)}: the last {step.recent} runs are "
                f"{step.verdict} than the {step.before} before them "
                f"({(step.ratio - 1) * 100:+.1f}%, p={step.p_value:.3f})"
            )
    if console.width >= 100:
        charted = {n: m for n, m in history.items() if len(m) >= 2}
        if charted:
            console.print(_ansi(history_chart(charted, width=min(console.width, 120))))


def _cmd_ab(args: argparse.Namespace, config: RunConfig) -> int:
    """`--ab OLD NEW`: the two in alternating fresh processes, one verdict for NEW."""
    from rich.console import Console
    from rich.table import Table

    from tui_perf.bench.ab import run_ab

    if not args.targets:
        raise TuiPerfError("--ab needs the file or module that defines OLD and NEW")
    if args.baseline or args.filter:
        raise TuiPerfError("--ab compares OLD with NEW; --baseline and --filter do not apply")
    console = Console()
    old, new = args.ab
    with _progress_bar(console) as progress:
        task = progress.add_task(f"{old} vs {new}", total=2 * config.processes, current="")

        def step(done: int, total: int, name: str) -> None:
            progress.update(task, completed=done, current=name)

        try:
            runs, verdict = run_ab(
                args.targets, old, new, config, threshold=_threshold(args), progress=step
            )
        except BenchmarkError as exc:
            raise TuiPerfError(str(exc)) from exc
    failed = [r for r in runs if r.error]
    for run in failed:
        print(f"tui-perf: error: {run.name} failed: {run.error}", file=sys.stderr)
    if failed or verdict is None:
        return EXIT_BAD
    table = Table(
        title=f"{esc(new)} against {esc(old)} · alternating processes", title_justify="left"
    )
    for col in ("function", "median", "± MAD", "processes x values"):
        table.add_column(col, justify="right" if col != "function" else "left")
    for run in runs:
        s = run.summary
        table.add_row(
            esc(run.name),
            fmt_seconds(s.median),
            fmt_seconds(s.mad),
            f"{len(run.sizes)} x {config.values}",
        )
    console.print(table)
    console.print(
        f"{esc(new)} vs {esc(old)}: [{_colour(verdict.verdict)}]{esc(verdict.text)}[/]",
        highlight=False,
    )
    if args.json:
        _write_json(args.json, "ab", {"ab": [old, new]}, runs, {new: verdict}, {}, None)
    return EXIT_REGRESSION if verdict.verdict == SLOWER else EXIT_OK


def _print_worker_advice(console: Any, runs: list[BenchRun]) -> None:
    """Benchmarks measured at several worker counts get Amdahl's fit and its knee."""
    from tui_perf.advice.report import finding_lines
    from tui_perf.advice.rules import worker_findings
    from tui_perf.model.snapshot import BenchResult

    results = [
        BenchResult(r.name, r.group, tuple(r.values), r.loops, r.summary.median, r.summary.stdev)
        for r in runs
        if not r.error and r.values
    ]
    for finding in worker_findings(results):
        for line in finding_lines(finding):
            console.print(esc(line), highlight=False)


def _print_parallel(console: Any) -> list[dict[str, Any]]:
    from rich.table import Table

    from tui_perf.bench.suite import parallel_speedup

    table = Table(
        title="parallel speedup (serial fraction fitted by Amdahl's law)", title_justify="left"
    )
    for col in ("task", "workers", "speedup", "serial fraction"):
        table.add_column(col)
    out = []
    with console.status("measuring parallel speedup..."):
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
            table.add_row(
                f"{kind}-bound, {executor}",
                " ".join(map(str, r.workers)),
                " ".join(f"{s:.2f}" for s in r.speedups),
                f"{r.serial_fraction:.2f}",
            )
    console.print(table)
    return out


def verdict_dict(v: Verdict) -> dict[str, Any]:
    return {
        "verdict": v.verdict,
        "ratio": v.ratio,
        "ci": [v.ci_low, v.ci_high],
        "threshold": v.threshold,
        "noise": v.noise,
        "processes": list(v.processes),
        "text": v.text,
    }


def _write_json(
    path: Path,
    run_id: str,
    meta: dict[str, Any],
    runs: list[BenchRun],
    verdicts: dict[str, Verdict],
    noise: dict[str, Noise],
    parallel: Any,
) -> None:
    def entry(run: BenchRun) -> dict[str, Any]:
        item: dict[str, Any] = {
            "name": run.name,
            "group": run.group,
            "loops": run.loops,
            "values": run.values,
            "sizes": run.sizes,
            "refs": run.refs,
            "error": run.error,
        }
        if not run.error:
            s = run.summary
            item.update(
                median=s.median,
                mean=s.mean,
                stdev=s.stdev,
                mad=s.mad,
                p95=s.p95,
                p99=s.p99,
                cv=s.cv,
                ops_per_s=s.ops_per_s,
                noise=noise[run.name].shown if run.name in noise else None,
                warnings=run.warnings,
            )
        v = verdicts.get(run.name)
        if v is not None:
            item["verdict"] = verdict_dict(v)
        return item

    try:
        path.write_text(
            json.dumps(
                {
                    "run_id": run_id,
                    "metadata": meta,
                    "benchmarks": [entry(r) for r in runs],
                    "parallel": parallel,
                },
                indent=2,
            )
            + "\n"
        )
    except OSError as exc:
        raise TuiPerfError(f"cannot write {path}: {exc.strerror}") from exc
