"""`tui-perf bench`: the arguments as a `BenchRequest`, the workflow run, its outcome printed.

Selecting, running, judging and saving are `bench.workflow`'s; this module parses and prints.

Exit codes: 0 all well; 1 a benchmark got slower (its whole interval beyond the threshold,
--fail-on-regression percent, 5 by default, and beyond the noise floor); 2 bad input or a
benchmark that raised (the others still run and are saved). `bench history` and `bench
export` live in `bench_history`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.markup import escape as esc

from tui_perf.bench.baseline import Noise
from tui_perf.bench.compare import Verdict
from tui_perf.bench.outcome import BenchOutcome
from tui_perf.bench.runner import RunConfig
from tui_perf.bench.workflow import BenchRequest, Progress
from tui_perf.cli.bench_history import _ansi, history_chart
from tui_perf.cli.parser import add_history_option
from tui_perf.model.errors import TuiPerfError
from tui_perf.model.format import fmt_percent, fmt_seconds


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


# -- arguments -> request ---------------------------------------------------------------


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


def request_of(args: argparse.Namespace) -> BenchRequest:
    """The arguments, checked, as what the workflow runs."""
    from tui_perf.bench.baseline import parse_baseline

    if args.fail_on_regression is not None and not 0 <= args.fail_on_regression < math.inf:
        raise TuiPerfError("--fail-on-regression must be 0 or more percent")
    config = _config(args)
    if args.ab:
        if not args.targets:
            raise TuiPerfError("--ab needs the file or module that defines OLD and NEW")
        if args.baseline or args.filter:
            raise TuiPerfError("--ab compares OLD with NEW; --baseline and --filter do not apply")
    baseline = parse_baseline(args.baseline)
    if args.targets and args.suite and not args.ab:
        raise TuiPerfError("give benchmark files or --suite builtin, not both")
    return BenchRequest(
        targets=tuple(args.targets),
        filter=args.filter,
        config=config,
        threshold=(5.0 if args.fail_on_regression is None else args.fail_on_regression) / 100,
        baseline=baseline,
        history=args.history,
        save=not args.no_save,
    )


def cmd_bench(args: argparse.Namespace) -> int:
    from rich.console import Console

    from tui_perf.bench.workflow import run_and_judge

    request = request_of(args)
    if args.ab:
        return _cmd_ab(args, request)
    # Piped to a file, rich would cut the table at 80 columns.
    console = Console(stderr=False, width=None if sys.stdout.isatty() else 160)
    with _progress(console, "benchmarks") as step:
        outcome = run_and_judge(request, step)
    _print_results(console, outcome)
    _print_notices(console, outcome)
    _print_history(console, outcome)
    _print_worker_advice(console, outcome)
    parallel = None
    if not args.targets and not args.quick and not args.filter:  # the whole suite, in full
        parallel = _print_parallel(console)
    if args.json:
        _write_json(args.json, outcome.to_json(parallel))
    console.print(esc(outcome.summary(request.save)), highlight=False)
    for run in outcome.failed:
        print(f"tui-perf: error: benchmark {run.name} failed: {run.error}", file=sys.stderr)
    return outcome.status


# -- printing ----------------------------------------------------------------------------


@contextmanager
def _progress(console: Any, title: str) -> Iterator[Progress]:
    """A bar the workflow's progress drives (on a terminal only)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[current]}"),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(title, total=None, current="")

        def step(name: str, done: int, total: int) -> None:
            bar.update(task, total=total, completed=done, current=name)

        yield step


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


def _print_results(console: Any, outcome: BenchOutcome) -> None:
    """The table, then one line per verdict saying why, in full."""
    from rich.table import Table

    run_id = f" · run {outcome.run_id}" if outcome.saved else ""
    table = Table(title=f"benchmarks{run_id} · against {outcome.baseline}", title_justify="left")
    table.add_column("benchmark", no_wrap=True)
    for col in ("median", "± MAD", "noise", "procs x values", "vs baseline"):
        table.add_column(col, justify="right", no_wrap=True)
    for run in outcome.runs:
        if run.error:
            table.add_row(esc(run.name), "[red]failed[/]", "", "", "", "")
            continue
        s = run.summary
        per = sorted(set(run.sizes))
        table.add_row(
            esc(run.name),
            fmt_seconds(s.median),
            fmt_seconds(s.mad),
            _noise_text(outcome.noise[run.name]),
            f"{len(run.sizes)} x {per[0] if len(per) == 1 else s.n}",
            _verdict_cell(outcome.verdicts.get(run.name)),
        )
    console.print(table)
    width = max((len(name) for name in outcome.verdicts), default=0)
    for name, v in outcome.verdicts.items():
        console.print(
            f"  {esc(name.ljust(width))}  [{_colour(v.verdict)}]{esc(v.text)}[/]", highlight=False
        )


def _print_notices(console: Any, outcome: BenchOutcome) -> None:
    for notice in outcome.notices:
        if notice.level == "warning":
            console.print(f"[yellow]warning:[/] {esc(notice.text)}")
        else:
            console.print(f"[dim]{esc(notice.text)}[/]")


def _print_history(console: Any, outcome: BenchOutcome) -> None:
    for step in outcome.steps:
        console.print(
            f"[bold]step change:[/] {esc(step.name)}: the last {step.recent} runs are "
            f"{step.verdict} than the {step.before} before them "
            f"({(step.ratio - 1) * 100:+.1f}%, p={step.p_value:.3f})"
        )
    if console.width >= 100:
        charted = {n: m for n, m in outcome.history.items() if len(m) >= 2}
        if charted:
            console.print(_ansi(history_chart(charted, width=min(console.width, 120))))


def _cmd_ab(args: argparse.Namespace, request: BenchRequest) -> int:
    """`--ab OLD NEW`: the two in alternating fresh processes, one verdict for NEW."""
    from rich.console import Console
    from rich.table import Table

    from tui_perf.bench.workflow import run_ab

    console = Console()
    old, new = args.ab
    with _progress(console, f"{old} vs {new}") as step:
        outcome = run_ab(request, old, new, step)
    for run in outcome.failed:
        print(f"tui-perf: error: {run.name} failed: {run.error}", file=sys.stderr)
    if outcome.verdict is None or outcome.failed:
        return outcome.status
    table = Table(
        title=f"{esc(new)} against {esc(old)} · alternating processes", title_justify="left"
    )
    for col in ("function", "median", "± MAD", "processes x values"):
        table.add_column(col, justify="right" if col != "function" else "left")
    for run in outcome.runs:
        s = run.summary
        table.add_row(
            esc(run.name),
            fmt_seconds(s.median),
            fmt_seconds(s.mad),
            f"{len(run.sizes)} x {request.config.values}",
        )
    console.print(table)
    verdict = outcome.verdict
    console.print(
        f"{esc(new)} vs {esc(old)}: [{_colour(verdict.verdict)}]{esc(verdict.text)}[/]",
        highlight=False,
    )
    if args.json:
        _write_json(args.json, outcome.to_json())
    return outcome.status


def _print_worker_advice(console: Any, outcome: BenchOutcome) -> None:
    """Benchmarks measured at several worker counts get Amdahl's fit and its knee."""
    from tui_perf.advice.report import finding_lines
    from tui_perf.advice.rules import worker_findings

    for finding in worker_findings(outcome.results):
        for line in finding_lines(finding):
            console.print(esc(line), highlight=False)


def _print_parallel(console: Any) -> list[dict[str, Any]]:
    from rich.table import Table

    from tui_perf.bench.workflow import parallel_speedups

    with console.status("measuring parallel speedup..."):
        measured = parallel_speedups()
    table = Table(
        title="parallel speedup (serial fraction fitted by Amdahl's law)", title_justify="left"
    )
    for col in ("task", "workers", "speedup", "serial fraction"):
        table.add_column(col)
    for r in measured:
        table.add_row(
            f"{r['kind']}-bound, {r['executor']}",
            " ".join(map(str, r["workers"])),
            " ".join(f"{s:.2f}" for s in r["speedups"]),
            f"{r['serial_fraction']:.2f}",
        )
    console.print(table)
    return measured


def _write_json(path: Path, data: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(data, indent=2) + "\n")
    except OSError as exc:
        raise TuiPerfError(f"cannot write {path}: {exc.strerror}") from exc
