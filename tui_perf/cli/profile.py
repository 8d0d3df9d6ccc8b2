"""`tui-perf profile`: record a profile headless, like `py-spy record`.

    tui-perf profile [--rate HZ] [--duration S] [-o FILE] [--format F] script.py [args]
    tui-perf profile -m module [args]
    tui-perf profile --pid N --duration S        # through the agent running in N

A script or module runs in this process with the sampler on; the file is written when it
ends (or after --duration, and the program goes on). Without -o the file goes to the user's
data directory, private; the path is printed on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tui_perf.model.errors import TuiPerfError

_VALUED = {"--rate", "--max-cost", "--duration", "-o", "--output", "--format", "--pid"}
_FLAGS = {"-h", "--help", "--internals"}


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "profile",
        help="record where a program spends its time (folded stacks or speedscope)",
        description="Sample a program's Python stacks and write a flame graph file.",
        usage="tui-perf profile [options] SCRIPT [ARGS...] | -m MODULE [ARGS...] | --pid N",
    )
    p.add_argument(
        "--rate", type=float, default=100.0, metavar="HZ", help="samples a second, fixed"
    )
    p.add_argument(
        "--max-cost",
        type=float,
        metavar="PCT",
        help="adaptive: --rate at most, halved while the sampler costs more than PCT%% of a core",
    )
    p.add_argument(
        "--internals",
        action="store_true",
        help="show tui-perf's own threads and the frames that launched the program",
    )
    p.add_argument("--duration", type=float, metavar="S", help="stop recording after S seconds")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="where to write the file")
    p.add_argument("--format", choices=("speedscope", "folded"), default=None)
    p.add_argument("--pid", type=int, help="profile a process running the agent")
    p.add_argument("target", nargs="*", metavar="SCRIPT|-m MODULE", help="the program")


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """Our options, then the program's command line (its options are never ours)."""
    from tui_perf.cli.agent import split_run_argv

    return split_run_argv(argv, _VALUED, _FLAGS)


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    name = str(args.output or "")
    return "folded" if name.endswith((".txt", ".folded")) else "speedscope"


def _output(args: argparse.Namespace, fmt: str, label: str, text: str) -> Path:
    from tui_perf.profile.commands import profiles_dir
    from tui_perf.profile.export import SUFFIX, write_private

    if args.output is not None:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise TuiPerfError(f"cannot write {args.output}: {exc.strerror or exc}") from exc
        return Path(args.output)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return write_private(profiles_dir() / f"profile-{label}-{stamp}{SUFFIX[fmt]}", text)


def cmd_profile(args: argparse.Namespace) -> int:
    if not 1 <= args.rate <= 1000:
        raise TuiPerfError(f"--rate must be in 1..1000 Hz, got {args.rate:g}")
    if args.max_cost is not None and not 0 < args.max_cost <= 100:
        raise TuiPerfError(f"--max-cost must be in (0, 100] percent, got {args.max_cost:g}")
    if args.duration is not None and not args.duration > 0:
        raise TuiPerfError(f"--duration must be above 0 seconds, got {args.duration:g}")
    if args.output is not None and args.output.is_dir():
        raise TuiPerfError(f"-o {args.output} is a folder: give a file name")
    fmt = _format(args)
    if args.pid is not None:
        if args.target:
            raise TuiPerfError("give --pid or a program, not both")
        return _remote(args, fmt)
    from tui_perf.cli.agent import checked_target

    return _local(args, fmt, checked_target(args.target, "give a script, -m MODULE, or --pid N"))


def _local(args: argparse.Namespace, fmt: str, target: list[str]) -> int:
    from tui_perf.agent.bootstrap import run_program
    from tui_perf.profile.export import render
    from tui_perf.profile.sampler import Profiler, ProfilerConfig

    adaptive = args.max_cost is not None
    profiler = Profiler(
        ProfilerConfig(
            rate_hz=args.rate,
            adaptive=adaptive,
            max_cost=args.max_cost / 100 if adaptive else 0.01,
            min_hz=min(10.0, args.rate),
            internals=args.internals,
        )
    )
    label = target[1].rsplit(".", 1)[-1] if target[0] == "-m" else Path(target[0]).stem
    written: list[Path | None] = []
    lock = threading.Lock()

    def finish(ended: bool) -> None:
        with lock:
            if written:
                return
            profiler.stop()
            tree = profiler.tree_copy()
            status = profiler.status()
            head = f"tui-perf: {summary(status)}"
            if profiler.note:
                print(f"tui-perf: {profiler.note}", file=sys.stderr)
            if not tree.stacks:
                written.append(None)
                print(f"{head}; no file written: {empty_reason(status, ended)}", file=sys.stderr)
                return
            path = _output(args, fmt, label, render(tree, fmt, name=" ".join(target)))
            written.append(path)
            print(f"{head}; {fmt} written to {path}", file=sys.stderr)

    timer = None
    if args.duration is not None:
        timer = threading.Timer(args.duration, finish, args=(False,))
        timer.daemon = True
    code = 0
    argv, path0 = sys.argv, list(sys.path)
    profiler.start()
    if timer is not None:
        timer.start()
    try:
        run_program(target)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        code = 130
    finally:
        sys.argv, sys.path[:] = argv, path0
        if timer is not None:
            timer.cancel()
        finish(True)
    return code


def summary(status: Any) -> str:
    """One line: what was sampled, by which sampler at what rate, and what it cost."""
    from tui_perf.views.profile import sampler_summary

    return (
        f"{status.samples} samples of running code over {status.duration_s:.1f} s "
        f"({status.idle_samples} more of waiting threads, left out); "
        f"{sampler_summary(status.sampler, status.mode, status.target_hz, status.achieved_hz)}"
        f"; sampler cost {status.cost_fraction * 100:.1f}% of a core"
    )


def empty_reason(status: Any, ended: bool) -> str:
    """Why a run has no sample of running code to show."""
    if status.rounds == 0:
        if ended:
            return "the program ended before the first sample"
        return "the sampler never ran (its rounds were refused or starved)"
    if status.idle_samples:
        return "every thread sampled was waiting (asleep, blocked), none was running"
    return "the program used too little CPU time to be sampled"


def _remote(args: argparse.Namespace, fmt: str) -> int:
    from tui_perf.agent.client import RemoteSource
    from tui_perf.agent.server import socket_path_for

    path = socket_path_for(args.pid)
    if not path.exists():
        raise TuiPerfError(f"no agent for pid {args.pid} (see 'tui-perf ps')")
    duration = args.duration if args.duration is not None else 10.0

    async def record() -> dict[str, Any]:
        source = RemoteSource(str(path), reconnect=False)
        snaps = source.snapshots()
        try:
            await asyncio.wait_for(snaps.__anext__(), 10)
        except (StopAsyncIteration, TimeoutError) as exc:
            raise TuiPerfError(f"the agent of pid {args.pid} did not answer") from exc
        try:
            await source.command(
                "profile_start", rate=args.rate, reset=True, max_cost=args.max_cost
            )
            print(f"tui-perf: sampling pid {args.pid} for {duration:g} s", file=sys.stderr)
            await asyncio.sleep(duration)
            result = await source.command("profile_export", format=fmt, inline=True)
            stopped = await source.command("profile_stop")
            result["status"] = stopped
            return result
        finally:
            await source.close()

    result = asyncio.run(record())
    stopped = result.get("status", {})
    from tui_perf.views.profile import sampler_summary

    line = (
        f"tui-perf: {result.get('samples', 0)} samples; "
        + sampler_summary(
            str(stopped.get("sampler", "thread")),
            str(stopped.get("mode", "adaptive")),
            float(stopped.get("target_hz", args.rate)),
            float(stopped.get("achieved_hz", 0.0)),
        )
        + f"; sampler cost {float(stopped.get('cost_fraction', 0.0)) * 100:.1f}% of a core"
    )
    if stopped.get("note"):
        print(f"tui-perf: {stopped['note']}", file=sys.stderr)
    if not result.get("stacks"):
        why = (
            "the sampler took no round in the target (refused or starved)"
            if not stopped.get("rounds")
            else "every thread sampled in the target was waiting, none was running"
        )
        print(f"{line}; no file written: {why}", file=sys.stderr)
        return 0
    out = _output(args, fmt, str(args.pid), str(result.get("text", "")))
    print(f"{line}; {fmt} written to {out}", file=sys.stderr)
    return 0
