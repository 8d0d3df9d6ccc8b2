"""`tui-perf bench history [NAME]` and `tui-perf bench export`: the benchmark history read back."""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tui_perf.bench.compare import detect_step
from tui_perf.bench.runner import split_groups
from tui_perf.cli.parser import Parser, add_history_option
from tui_perf.model.errors import TuiPerfError
from tui_perf.model.format import fmt_seconds

EXIT_OK = 0


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
    add_history_option(p)
    return p


def sub_main(name: str, argv: Sequence[str]) -> int:
    args = _sub_parser(name).parse_args(list(argv))
    # parsed here, not under the top-level parser whose `--history` default is None
    args.history = getattr(args, "history", None)
    if args.history is not None and not args.history.exists():
        raise TuiPerfError(f"no history file at {args.history}")  # a read creates nothing
    return cmd_history(args) if name == "history" else cmd_export(args)


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
                        "sizes": list(r.sizes),
                        "refs": list(r.refs),
                        "noise": r.noise,
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
                [
                    "ts",
                    "run_id",
                    "name",
                    "group",
                    "loops",
                    "process",
                    "value_index",
                    "seconds_per_loop",
                ]
            )
            for r in rows:
                i = 0
                for process, values in enumerate(split_groups(r.values, r.sizes)):
                    for v in values:
                        writer.writerow([r.ts, r.run_id, r.name, r.group, r.loops, process, i, v])
                        i += 1
    finally:
        if out is not sys.stdout:
            out.close()
    return EXIT_OK
