"""`tui-perf` and its subcommands.

Bad input gets one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tui_perf import __version__
from tui_perf.cli.parser import EXIT_BAD_INPUT, Parser, add_history_option
from tui_perf.model.errors import TuiPerfError
from tui_perf.model.paths import default_history_path

if TYPE_CHECKING:
    from tui_perf.model.snapshot import Snapshot


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="tui-perf",
        description="A performance cockpit for Python processes.",
        epilog="Run 'tui-perf COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"tui-perf {__version__}")
    parser.add_argument(
        "--no-demo",
        action="store_true",
        help="watch tui-perf's own process without the built-in demo workload",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between snapshots (default 1)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        metavar="MIB",
        help="memory budget in MiB (default: the cgroup limit, else half of RAM;"
        " with the demo, the demo's own)",
    )
    parser.add_argument(
        "--history",
        type=Path,
        metavar="FILE",
        help="where to keep the history (default: the user's data directory)",
    )
    parser.add_argument("--no-history", action="store_true", help="keep no history file")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    snap = sub.add_parser(
        "snapshot",
        help="print one snapshot of a process (like a one-shot top)",
        description="Print one snapshot of a process's memory, CPU and (for this process) GC.",
    )
    snap.add_argument(
        "--pid",
        type=int,
        help="the process to read (default: the one process running the agent); through its "
        "agent when it has one (GC and caches too), else from outside",
    )
    snap.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    snap.add_argument(
        "--full", action="store_true", help="also read USS/PSS (walks the page tables: slower)"
    )
    snap.add_argument(
        "--interval",
        type=float,
        default=0.2,
        metavar="S",
        help="seconds between the two readings that give CP%% (default 0.2)",
    )
    snap.add_argument("--save", action="store_true", help="also append it to the history file")
    add_history_option(snap, "history file for --save")

    hist = sub.add_parser(
        "history",
        help="print the memory history and events kept in the history file",
        description="Print recent memory samples and events from the history file.",
    )
    add_history_option(hist, "history file (default: the user's data directory)")
    hist.add_argument(
        "--last",
        type=float,
        default=3600.0,
        metavar="S",
        help="how many seconds back to show (default 3600)",
    )
    hist.add_argument("--pid", type=int, help="only the rows of this process")
    hist.add_argument(
        "--command",
        dest="command_filter",  # not `command`: that names the subcommand
        metavar="TEXT",
        help="only the rows of processes whose command has TEXT",
    )
    hist.add_argument("--all", action="store_true", help="every row in the window, not the last 40")
    hist.add_argument("--json", action="store_true", help="print as JSON")

    from tui_perf.cli import advise as advise_cli
    from tui_perf.cli import profile as profile_cli
    from tui_perf.cli import replay as replay_cli
    from tui_perf.cli import serve as serve_cli
    from tui_perf.cli import top as top_cli
    from tui_perf.cli import tune as tune_cli
    from tui_perf.cli.agent import add_parsers
    from tui_perf.cli.bench import add_parser

    add_parser(sub)
    add_parsers(sub)
    profile_cli.add_parser(sub)
    advise_cli.add_parser(sub)
    tune_cli.add_parsers(sub)
    replay_cli.add_parser(sub)
    top_cli.add_parser(sub)
    serve_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if len(argv) >= 2 and argv[0] == "bench" and argv[1] in ("history", "export"):
            from tui_perf.cli.bench_history import sub_main

            return sub_main(argv[1], argv[2:])
        if argv[:1] == ["run"]:
            from tui_perf.cli.agent import split_run_argv

            own, program = split_run_argv(argv[1:])
            args = build_parser().parse_args(["run", *own])
            args.target = program
        elif argv[:1] == ["profile"]:
            from tui_perf.cli.profile import split_argv

            own, program = split_argv(argv[1:])
            args = build_parser().parse_args(["profile", *own])
            args.target = program
        else:
            if argv[:1] == ["replay"]:
                from tui_perf.cli.replay import glue_times

                argv = glue_times(argv)
            args = build_parser().parse_args(argv)
        if args.command == "bench":
            from tui_perf.cli.bench import cmd_bench

            return cmd_bench(args)
        if args.command in ("run", "attach", "ps", "watch"):
            from tui_perf.cli import agent as agent_cli

            handler = getattr(agent_cli, f"cmd_{args.command}")
            return int(handler(args))
        if args.command == "profile":
            from tui_perf.cli.profile import cmd_profile

            return cmd_profile(args)
        if args.command == "snapshot":
            return cmd_snapshot(args)
        if args.command == "advise":
            from tui_perf.cli.advise import cmd_advise

            return cmd_advise(args)
        if args.command == "history":
            return cmd_history(args)
        if args.command == "serve":
            from tui_perf.cli.serve import cmd_serve

            return cmd_serve(args)
        if args.command == "top":
            from tui_perf.cli.top import cmd_top

            return cmd_top(args)
        if args.command == "replay":
            from tui_perf.cli.replay import cmd_replay

            return cmd_replay(args)
        if args.command in ("tune", "profiles"):
            from tui_perf.cli import tune as tune_cli

            return int(getattr(tune_cli, f"cmd_{args.command}")(args))
        return cmd_default(args)
    except TuiPerfError as exc:
        print(f"tui-perf: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`tui-perf ... | head`): not an error. Point stdout at
        # /dev/null so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def cmd_default(args: argparse.Namespace) -> int:
    """The dashboard on this process, with the demo workload unless --no-demo."""
    if not args.interval > 0:
        raise TuiPerfError(f"--interval must be above 0 seconds, got {args.interval}")
    if args.budget is not None and not args.budget > 0:
        raise TuiPerfError(f"--budget must be above 0 MiB, got {args.budget}")
    if args.history is not None and not args.no_history:
        from tui_perf.store.history import check_history_file

        check_history_file(args.history)  # exit 2 now, not a toast inside the dashboard
    from tui_perf.cli.agent import _need_terminal

    _need_terminal("the dashboard needs a terminal; for one reading use 'tui-perf snapshot --json'")
    from tui_perf.dashboard.app import Dashboard
    from tui_perf.dashboard.sources import LocalSource
    from tui_perf.engine.core import Engine, EngineConfig
    from tui_perf.engine.gc_control import GCConfig
    from tui_perf.engine.sampler import default_probe

    demo = None
    budget = args.budget
    if not args.no_demo:
        from tui_perf.dashboard.demo import Demo

        demo = Demo()
        if budget is None:
            # A budget the demo's sawtooth climbs through: it peaks in CRITICAL.
            budget = default_probe().read().rss / 2**20 + 60 + demo.peak_mib * 0.75
    config = EngineConfig(
        interval=args.interval, budget_mib=budget, gc=GCConfig(adaptive=demo is not None)
    )
    engine = Engine(config)
    if engine.gc_controller is not None:
        engine.gc_controller.install()
    history = None if args.no_history else (args.history or default_history_path())
    source = LocalSource(
        engine, description=f"pid {os.getpid()}" + (" · built-in demo workload" if demo else "")
    )
    if demo is not None:
        demo.start()
    try:
        Dashboard(source, history_path=history).run()
    finally:
        if demo is not None:
            demo.stop()
        if engine.gc_controller is not None:
            engine.gc_controller.uninstall()
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    from tui_perf.engine.core import Engine, EngineConfig, default_budget
    from tui_perf.engine.sampler import Sampler, default_probe

    if args.interval < 0:
        raise TuiPerfError(f"--interval must be 0 or more seconds, got {args.interval}")
    if args.pid is not None and args.pid <= 0:
        raise TuiPerfError(f"--pid must be a positive process id, got {args.pid}")
    from tui_perf.cli.agent import agent_of

    agent = agent_of(args.pid)
    if agent is not None and args.pid != os.getpid():
        snap = asyncio.run(_agent_snapshot(agent))
        if args.full:  # the agent reads USS/PSS rarely; asked for, we read them ourselves
            snap = _with_full_memory(snap)
        return _print_snapshot(snap, args)
    probe = default_probe(args.pid)
    config = EngineConfig()
    sampler = Sampler(
        probe, full_info_interval=0.0 if args.full else None, budget=default_budget(config)
    )
    engine = Engine(config, sampler=sampler)
    engine.tick()
    if args.interval:
        time.sleep(args.interval)
    snap = engine.tick()
    return _print_snapshot(snap, args)


def _with_full_memory(snap: Snapshot) -> Snapshot:
    import dataclasses

    from tui_perf.engine.sampler import default_probe

    uss, pss = default_probe(snap.pid).full_info()
    return dataclasses.replace(snap, memory=dataclasses.replace(snap.memory, uss=uss, pss=pss))


async def _agent_snapshot(path: Path, timeout: float = 5.0) -> Snapshot:
    from tui_perf.agent.client import RemoteSource

    source = RemoteSource(str(path))

    async def first() -> Snapshot:
        async for snap in source.snapshots():
            return snap
        raise TuiPerfError(f"the agent at {path} sent no snapshot")

    try:
        return await asyncio.wait_for(first(), timeout)
    except TimeoutError as exc:
        raise TuiPerfError(f"the agent at {path} sent no snapshot within {timeout:g} s") from exc
    finally:
        await source.close()


def _print_snapshot(snap: Snapshot, args: argparse.Namespace) -> int:
    if args.save:
        asyncio.run(_save(snap, args.history))
    if args.json:
        print(json.dumps(snap.to_dict(), indent=2))
    else:
        from rich.console import Console

        from tui_perf.cli.report import snapshot_table

        Console().print(snapshot_table(snap, own=snap.pid == os.getpid()))
    return 0


async def _save(snap: Snapshot, path: Path | None) -> None:
    from tui_perf.store.history import HistoryStore

    async with await HistoryStore.open(path) as store:
        await store.add_snapshot(snap)


def cmd_history(args: argparse.Namespace) -> int:
    from tui_perf.model.snapshot import Event
    from tui_perf.store.history import HistoryStore, MemoryPoint, ProcessRow

    if args.last <= 0:
        raise TuiPerfError(f"--last must be above 0 seconds, got {args.last}")
    if args.history is not None and not args.history.exists():
        raise TuiPerfError(f"no history file at {args.history}")

    async def read() -> tuple[list[MemoryPoint], list[Event], list[ProcessRow]]:
        async with await HistoryStore.open(args.history) as store:
            since = time.time() - args.last
            processes = await store.processes()
            pids: list[int] | None = None
            if args.command_filter is not None:
                pids = [p.pid for p in processes if args.command_filter in p.command]
                if not pids:
                    raise TuiPerfError(
                        f"no process in the history ran a command with {args.command_filter!r}"
                    )
            if args.pid is not None:
                pids = [args.pid] if pids is None else [p for p in pids if p == args.pid]
            points = await store.memory_series(since, pids=pids)
            return points, await store.events(since, pids=pids), processes

    points, events, processes = asyncio.run(read())
    if args.json:
        print(
            json.dumps(
                {
                    "processes": [_row(p) for p in processes],
                    "samples": [_row(p) for p in points],
                    "events": [_row(e) for e in events],
                },
                indent=2,
            )
        )
        return 0
    from rich.console import Console

    from tui_perf.cli.report import history_tables

    shown = {p.pid for p in points}
    for table in history_tables(
        points, events, [p for p in processes if p.pid in shown], limit=None if args.all else 40
    ):
        Console().print(table)
    return 0


def _row(obj: object) -> dict[str, object]:
    import dataclasses

    assert dataclasses.is_dataclass(obj) and not isinstance(obj, type)
    return dataclasses.asdict(obj)
