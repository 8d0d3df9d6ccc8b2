"""`tui-perf bench`, `tui-perf bench history [NAME]`, `tui-perf bench export`.

Exit codes: 0 all well; 1 a benchmark got slower (a significant change of at least
--fail-on-regression percent, 5 by default); 2 bad input or a benchmark that raised (the
others still run and are saved).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import fnmatch
import json
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tui_perf.bench.compare import SLOWER, Verdict, compare_values, detect_step
from tui_perf.bench.registry import Benchmark, BenchmarkError, load
from tui_perf.bench.runner import BenchRun, RunConfig, run_benchmarks
from tui_perf.cli.parser import Parser
from tui_perf.model.errors import TuiPerfError
from tui_perf.model.format import fmt_seconds

EXIT_OK, EXIT_REGRESSION, EXIT_BAD = 0, 1, 2


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="run benchmarks, keep their history, and judge regressions",
        description="Run benchmarks (yours, or the built-in suite) with calibration, save them "
        "to the history, and compare with a baseline. Also: 'tui-perf bench history [NAME]', "
        "'tui-perf bench export --format json|csv'.",
        epilog="Exit codes: 0 fine, 1 a significant slowdown, 2 bad input or a failing benchmark.",
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
        metavar="latest|RUN_ID|FILE.json",
        help="compare with this run (default: latest, when history has one)",
    )
    p.add_argument(
        "--fail-on-regression",
        type=float,
        metavar="PCT",
        default=None,
        help="exit 1 only for slowdowns of at least PCT percent (default 5)",
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="spread the values over N worker processes (default 1)",
    )
    p.add_argument("--quick", action="store_true", help="short values, fewer of them")
    p.add_argument("--no-gc", action="store_true", help="run with the garbage collector off")
    p.add_argument("--history", type=Path, metavar="FILE", help="history file")
    p.add_argument("--no-save", action="store_true", help="do not write this run to history")


def _sub_parser(name: str) -> argparse.ArgumentParser:

    if name == "history":
        p = Parser(
            prog="tui-perf bench history",
            description="List benchmark runs, or one benchmark's history.",
        )
        p.add_argument("name", nargs="?", help="a benchmark name: its medians over time")
        p.add_argument("--json", action="store_true", help="print JSON")
    else:
        p = Parser(prog="tui-perf bench export", description="Export every benchmark value.")
        p.add_argument("--format", choices=["json", "csv"], required=True)
        p.add_argument("--output", type=Path, metavar="FILE", help="default: standard output")
    p.add_argument("--history", type=Path, metavar="FILE", help="history file")
    return p


def sub_main(name: str, argv: Sequence[str]) -> int:
    args = _sub_parser(name).parse_args(list(argv))
    return cmd_history(args) if name == "history" else cmd_export(args)


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


def cmd_bench(args: argparse.Namespace) -> int:
    if args.processes < 1:
        raise TuiPerfError(f"--processes must be 1 or more, got {args.processes}")
    if args.fail_on_regression is not None and args.fail_on_regression < 0:
        raise TuiPerfError("--fail-on-regression must be 0 or more percent")
    if args.baseline and args.baseline.endswith(".json") and not Path(args.baseline).is_file():
        raise TuiPerfError(f"no baseline file at {args.baseline}")
    try:
        benches = _select(args)
    except BenchmarkError as exc:
        raise TuiPerfError(str(exc)) from exc
    base = RunConfig.quick() if args.quick else RunConfig()
    config = RunConfig(
        base.min_time, base.values, base.warmups, args.processes, gc_enabled=not args.no_gc
    )
    return asyncio.run(_bench(args, benches, config))


async def _bench(args: argparse.Namespace, benches: list[Benchmark], config: RunConfig) -> int:
    from rich.console import Console

    from tui_perf.bench.meta import run_metadata
    from tui_perf.store.history import HistoryStore

    console = Console(stderr=False)
    store = await HistoryStore.open(args.history)
    try:
        baseline = await _baseline(store, args.baseline, [b.name for b in benches])
        runs = _run_with_progress(benches, config, args.targets, console)
        run_id = dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
        code_dir = Path(args.targets[0]).resolve().parent if args.targets else None
        meta = {
            **run_metadata(code_dir),
            "gc_enabled": config.gc_enabled,
            "processes": config.processes,
        }
        if not args.no_save:
            for run in runs:
                if not run.error:
                    s = run.summary
                    await store.add_bench_run(
                        run_id, run.name, run.group, run.loops, run.values, s.median, s.stdev, meta
                    )
        verdicts = {
            run.name: compare_values(run.name, baseline[run.name], run.values)
            for run in runs
            if not run.error and run.name in baseline
        }
        history = {
            run.name: [r.median_s for r in await store.bench_runs(name=run.name)]
            for run in runs
            if not run.error
        }
    finally:
        await store.close()

    threshold = 5.0 if args.fail_on_regression is None else args.fail_on_regression
    regressions = [
        v for v in verdicts.values() if v.verdict == SLOWER and v.change_percent >= threshold
    ]
    _print_results(console, runs, verdicts, history, run_id if not args.no_save else None)
    parallel = None
    if not args.targets and not args.quick and not args.filter:
        parallel = _print_parallel(console)
    if args.json:
        _write_json(args.json, run_id, meta, runs, verdicts, parallel)
    failed = [r for r in runs if r.error]
    for run in failed:
        print(f"tui-perf: error: benchmark {run.name} failed: {run.error}", file=sys.stderr)
    if failed:
        return EXIT_BAD
    return EXIT_REGRESSION if regressions else EXIT_OK


def _run_with_progress(
    benches: list[Benchmark], config: RunConfig, targets: Sequence[str], console: Any
) -> list[BenchRun]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[current]}"),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        total = len(benches) * config.values
        task = progress.add_task("benchmarks", total=total, current="")
        done: dict[str, int] = {}

        def step(name: str, i: int, n: int) -> None:
            done[name] = i
            progress.update(task, completed=sum(done.values()), current=name)

        return run_benchmarks(benches, config, targets=targets, progress=step)


async def _baseline(store: Any, spec: str | None, names: list[str]) -> dict[str, list[float]]:
    """Values per benchmark name from the chosen baseline; {} when there is none."""
    if spec and spec.endswith(".json"):
        try:
            data = json.loads(Path(spec).read_text())
            return {
                b["name"]: [float(v) for v in b["values"]]
                for b in data["benchmarks"]
                if not b.get("error")
            }
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TuiPerfError(f"{spec} is not a tui-perf bench JSON file ({exc})") from exc
    rows = [r for r in await store.bench_runs() if r.name in names]
    if not rows:
        if spec not in (None, "latest"):
            raise TuiPerfError(f"no benchmark run {spec!r} in the history")
        return {}
    run_id = rows[-1].run_id if spec in (None, "latest") else spec
    chosen = {r.name: list(r.values) for r in rows if r.run_id == run_id}
    if not chosen:
        raise TuiPerfError(
            f"no benchmark run {spec!r} in the history (see 'tui-perf bench history')"
        )
    return chosen


def _verdict_text(v: Verdict | None) -> str:
    if v is None:
        return "[dim]no baseline[/]"
    colour = {"slower": "red", "faster": "green", "same": "dim"}[v.verdict]
    return (
        f"[{colour}]{v.verdict} {v.change_percent:+.1f}%[/] "
        f"[dim]({(v.ci_low - 1) * 100:+.1f}..{(v.ci_high - 1) * 100:+.1f}%, "
        f"p={v.p_value:.3f})[/]"
    )


def _print_results(
    console: Any,
    runs: list[BenchRun],
    verdicts: dict[str, Verdict],
    history: dict[str, list[float]],
    run_id: str | None,
) -> None:
    from rich.table import Table

    table = Table(title=f"benchmarks{f' · run {run_id}' if run_id else ''}", title_justify="left")
    table.add_column("benchmark", no_wrap=True)
    for col in ("median", "± MAD", "ops/s", "CV", "loops x values"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("vs baseline")
    for run in runs:
        if run.error:
            table.add_row(run.name, "[red]failed[/]", "", "", "", "", f"[red]{run.error}[/]")
            continue
        s = run.summary
        cv = f"{s.cv * 100:.1f}%"
        if run.warnings:
            cv = f"[yellow]{cv} ![/]"
        table.add_row(
            run.name,
            fmt_seconds(s.median),
            fmt_seconds(s.mad),
            f"{s.ops_per_s:,.0f}",
            cv,
            f"{run.loops} x {s.n}",
            _verdict_text(verdicts.get(run.name)),
        )
    console.print(table)
    for run in runs:
        for warning in run.warnings:
            console.print(f"[yellow]warning:[/] {run.name}: {warning}")
    for name, medians in history.items():
        step = detect_step(name, medians)
        if step is not None and step.verdict != "same":
            console.print(
                f"[bold]step change:[/] {name}: the last {step.recent} runs are "
                f"{step.verdict} than the {step.before} before them "
                f"({(step.ratio - 1) * 100:+.1f}%, p={step.p_value:.3f})"
            )
    if console.width >= 100:
        charted = {n: m for n, m in history.items() if len(m) >= 2}
        if charted:
            console.print(_ansi(history_chart(charted, width=min(console.width, 120))))


def _ansi(text: str) -> Any:
    from rich.text import Text

    return Text.from_ansi(text)


def history_chart(series: dict[str, list[float]], width: int = 100, height: int = 15) -> str:
    """Medians over runs, one line per benchmark, relative to each one's first run."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    for name, medians in list(series.items())[:6]:
        plt.plot([m / medians[0] for m in medians], label=name[:24])
    runs = max(len(m) for m in series.values())
    step = max(1, runs // 8)
    plt.xticks(list(range(0, runs, step)), [str(i + 1) for i in range(0, runs, step)])
    plt.title("median per run, relative to the first run (lower is faster)")
    plt.xlabel("run")
    return str(plt.build())


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


def _write_json(
    path: Path,
    run_id: str,
    meta: dict[str, Any],
    runs: list[BenchRun],
    verdicts: dict[str, Verdict],
    parallel: Any,
) -> None:
    def entry(run: BenchRun) -> dict[str, Any]:
        item: dict[str, Any] = {
            "name": run.name,
            "group": run.group,
            "loops": run.loops,
            "values": run.values,
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
                warnings=run.warnings,
            )
        v = verdicts.get(run.name)
        if v is not None:
            item["verdict"] = {
                "verdict": v.verdict,
                "ratio": v.ratio,
                "ci": [v.ci_low, v.ci_high],
                "p_value": v.p_value,
            }
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


# -- history and export ----------------------------------------------------------------


def cmd_history(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from tui_perf.store.history import HistoryStore

    async def read() -> list[Any]:
        async with await HistoryStore.open(args.history) as store:
            return list(await store.bench_runs(name=args.name))

    rows = asyncio.run(read())
    if args.name and not rows:
        raise TuiPerfError(f"no history for benchmark {args.name!r}")
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "ts": r.ts,
                        "run_id": r.run_id,
                        "name": r.name,
                        "median_s": r.median_s,
                        "stdev_s": r.stdev_s,
                    }
                    for r in rows
                ],
                indent=2,
            )
        )
        return EXIT_OK
    console = Console()
    if args.name:
        table = Table(title=f"{args.name} · {len(rows)} runs", title_justify="left")
        for col in ("run", "date", "median", "stdev", "commit"):
            table.add_column(col)
        for r in rows:
            table.add_row(
                r.run_id,
                f"{dt.datetime.fromtimestamp(r.ts):%Y-%m-%d %H:%M}",
                fmt_seconds(r.median_s),
                fmt_seconds(r.stdev_s),
                str(r.metadata.get("git_commit") or "—")[:12],
            )
        console.print(table)
        medians = [r.median_s for r in rows]
        step = detect_step(args.name, medians)
        if step is not None:
            console.print(
                f"step check: last {step.recent} runs vs {step.before} before: "
                f"{step.verdict} ({(step.ratio - 1) * 100:+.1f}%, "
                f"p={step.p_value:.3f})"
            )
        if len(medians) >= 2 and console.width >= 60:
            console.print(_ansi(history_chart({args.name: medians}, width=min(console.width, 120))))
        return EXIT_OK
    runs: dict[str, list[Any]] = {}
    for r in rows:
        runs.setdefault(r.run_id, []).append(r)
    table = Table(title=f"benchmark runs · {len(runs)}", title_justify="left")
    for col in ("run", "date", "benchmarks", "commit"):
        table.add_column(col)
    for run_id, items in runs.items():
        table.add_row(
            run_id,
            f"{dt.datetime.fromtimestamp(items[0].ts):%Y-%m-%d %H:%M}",
            str(len(items)),
            str(items[0].metadata.get("git_commit") or "—")[:12],
        )
    if not runs:
        table.caption = "no runs yet: 'tui-perf bench' runs the built-in suite"
    console.print(table)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from tui_perf.store.history import HistoryStore

    async def read() -> list[Any]:
        async with await HistoryStore.open(args.history) as store:
            return list(await store.bench_runs())

    rows = asyncio.run(read())
    try:
        out = args.output.open("w", newline="") if args.output else sys.stdout
    except OSError as exc:
        raise TuiPerfError(f"cannot write {args.output}: {exc.strerror}") from exc
    try:
        if args.format == "json":
            json.dump(
                [
                    {
                        "ts": r.ts,
                        "run_id": r.run_id,
                        "name": r.name,
                        "group": r.group,
                        "loops": r.loops,
                        "median_s": r.median_s,
                        "stdev_s": r.stdev_s,
                        "values": list(r.values),
                        "metadata": r.metadata,
                    }
                    for r in rows
                ],
                out,
                indent=2,
            )
            out.write("\n")
        else:
            writer = csv.writer(out)
            writer.writerow(
                ["ts", "run_id", "name", "group", "loops", "value_index", "seconds_per_loop"]
            )
            for r in rows:
                for i, v in enumerate(r.values):
                    writer.writerow([r.ts, r.run_id, r.name, r.group, r.loops, i, v])
    finally:
        if out is not sys.stdout:
            out.close()
    return EXIT_OK
