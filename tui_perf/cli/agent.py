"""`tui-perf run`, `tui-perf attach`, `tui-perf ps`, `tui-perf watch --pid`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tui_perf.cli.parser import add_history_option
from tui_perf.model.errors import TuiPerfError
from tui_perf.model.paths import private_dir, private_file

INTERNALS_HELP = "also show the dashboard's own widgets, pools and caches (hidden by default)"


def add_parsers(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="run a Python program with the agent and watch it",
        description="Start a program with the tui-perf agent injected before its code runs, "
        "and open the dashboard on it. The program's output goes to a log file.",
        usage="tui-perf run [options] SCRIPT [ARGS...] | tui-perf run [options] -m MODULE "
        "[ARGS...]",
    )
    run.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between snapshots (default 1)",
    )
    run.add_argument(
        "--no-dashboard", action="store_true", help="run headless and keep the history only"
    )
    run.add_argument(
        "--prometheus",
        type=int,
        metavar="PORT",
        help="also serve Prometheus metrics on 127.0.0.1:PORT",
    )
    run.add_argument(
        "--tune",
        action="store_true",
        help="turn the tuner on: it takes the advice one change at a time, measures each "
        "and keeps only what helped (`t` in the dashboard toggles it)",
    )
    run.add_argument(
        "--profile",
        default="auto",
        metavar="NAME|FILE",
        help="the tuning profile: auto (the default), a shipped or user profile "
        "(tui-perf profiles lists them) or a TOML file",
    )
    add_history_option(run)
    run.add_argument("--internals", action="store_true", help=INTERNALS_HELP)
    run.add_argument(
        "--no-history", action="store_true", help="keep no history (with the dashboard)"
    )
    run.add_argument(
        "target",
        nargs="*",
        metavar="SCRIPT|-m MODULE",
        help="the program and its arguments",
    )

    attach = sub.add_parser(
        "attach",
        help="open the dashboard on a process running the agent",
        description="Attach to an agent by socket path, pid or HOST:PORT.",
    )
    attach.add_argument("address", metavar="PATH|PID|HOST:PORT")
    attach.add_argument("--token", help="the agent's token (TCP)")
    attach.add_argument("--internals", action="store_true", help=INTERNALS_HELP)

    ps = sub.add_parser(
        "ps",
        help="list processes running the agent (this user's)",
        description="List the agents in this user's runtime directory.",
    )
    ps.add_argument(
        "--clean", action="store_true", help="remove sockets left by processes that are gone"
    )

    watch = sub.add_parser(
        "watch",
        help="watch any process from outside (no agent)",
        description="Memory, CPU, threads and files of any process; "
        "its GC, caches and pools are out of reach from outside.",
    )
    watch.add_argument("--pid", type=int, required=True, help="the process to watch")
    watch.add_argument("--interval", type=float, default=1.0, metavar="S")
    watch.add_argument("--internals", action="store_true", help=INTERNALS_HELP)


_RUN_VALUED = {"--interval", "--prometheus", "--history", "--profile"}
_RUN_FLAGS = {"--no-dashboard", "--no-history", "--internals", "--tune", "-h", "--help"}


def split_run_argv(
    argv: list[str],
    valued: set[str] = _RUN_VALUED,
    flags: set[str] = _RUN_FLAGS,
) -> tuple[list[str], list[str]]:
    """Split `tui-perf run` arguments into its own options and the program's command line.

    The program starts at the first token that is not one of run's options (`-m` included),
    so the program's own options are never read as ours, as with `python` itself.
    """
    i = 0
    while i < len(argv):
        token = argv[i]
        name = token.split("=", 1)[0]
        if name in valued:
            i += 1 if "=" in token else 2
        elif token in flags:
            i += 1
        elif token == "--":
            return argv[:i], argv[i + 1 :]
        else:
            break
    return argv[:i], argv[i:]


def _need_terminal(message: str = "the dashboard needs a terminal") -> None:
    """A terminal, or a browser: `tui-perf serve` runs us under Textual's web driver."""
    if not sys.stdout.isatty() and not os.environ.get("TEXTUAL_DRIVER"):
        raise TuiPerfError(message)


def watch_engine(probe: Any, interval: float, *, internals: bool = False) -> Any:
    """An engine over another process's figures. This process's registry holds the
    dashboard's own pools, not the watched program's: left out unless asked for."""
    from tui_perf.engine.core import Engine, EngineConfig, default_budget
    from tui_perf.engine.registry import REGISTRY, Registry
    from tui_perf.engine.sampler import Sampler

    config = EngineConfig(interval=interval)
    registry = REGISTRY if internals else Registry()
    return Engine(config, sampler=Sampler(probe, budget=default_budget(config)), registry=registry)


def cmd_watch(args: argparse.Namespace) -> int:
    from tui_perf.dashboard.app import Dashboard
    from tui_perf.dashboard.sources import LocalSource
    from tui_perf.engine.sampler import default_probe

    if args.interval <= 0:
        raise TuiPerfError("--interval must be above 0 seconds")
    probe = default_probe(args.pid)
    probe.read()  # a pid we may not read fails here, with its one-line reason
    _need_terminal()
    engine = watch_engine(probe, args.interval, internals=args.internals)
    source = LocalSource(engine, description=f"pid {args.pid} · from outside: process figures")
    Dashboard(source, history_path=None, show_widget_stats=args.internals).run()
    return 0


def _resolve(address: str) -> str:
    from tui_perf.agent.server import socket_path_for

    if address.isdigit():
        path = socket_path_for(int(address))
        if not path.exists():
            raise TuiPerfError(f"no agent for pid {address} (see 'tui-perf ps')")
        return str(path)
    if ("/" in address or address.endswith(".sock")) and not Path(address).exists():
        raise TuiPerfError(f"no agent socket at {address} (see 'tui-perf ps')")
    return address


def probe_agent(address: str, timeout: float = 3.0) -> None:
    """Connect and read the agent's hello, or say in one line why not (exit 2, not a
    dashboard waiting forever for a first snapshot)."""
    import json
    import socket

    from tui_perf.agent.client import parse_address

    kind, where = parse_address(address)  # a one-line ConfigError on nonsense
    try:
        if kind == "unix":
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.settimeout(timeout)
            conn.connect(str(where))
        else:
            assert isinstance(where, tuple)
            conn = socket.create_connection(where, timeout=timeout)
    except ConnectionRefusedError as exc:
        stale = " (a stale socket: 'tui-perf ps --clean' removes them)" if kind == "unix" else ""
        raise TuiPerfError(f"cannot connect to {address}: connection refused{stale}") from exc
    except OSError as exc:
        raise TuiPerfError(f"cannot connect to {address}: {exc.strerror or exc}") from exc
    with conn:
        try:
            line = conn.makefile("rb").readline(4096)
            hello = json.loads(line)
        except (OSError, ValueError) as exc:
            raise TuiPerfError(
                f"no tui-perf agent answered at {address} within {timeout:g} s"
            ) from exc
        if not isinstance(hello, dict) or hello.get("type") != "hello":
            raise TuiPerfError(f"{address} is not a tui-perf agent")


def cmd_attach(args: argparse.Namespace) -> int:
    from tui_perf.agent.client import RemoteSource
    from tui_perf.dashboard.app import Dashboard

    address = _resolve(args.address)
    probe_agent(address)
    source = RemoteSource(address, token=args.token)
    _need_terminal()
    Dashboard(source, show_widget_stats=args.internals).run()
    return 0


def agent_of(pid: int | None) -> Path | None:
    """The agent socket to read `pid` through; with no pid, the one running agent's (for
    `snapshot` and `advise`)."""
    from tui_perf.agent.client import list_agents

    live = [(p, path) for p, path, alive in list_agents() if alive]
    if pid is not None:
        return next((path for p, path in live if p == pid), None)
    if len(live) == 1:
        return live[0][1]
    if not live:
        raise TuiPerfError(
            "give --pid N: no process is running the agent ('tui-perf snapshot --pid N' reads "
            "any process from outside)"
        )
    pids = ", ".join(str(p) for p, _ in live)
    raise TuiPerfError(f"give --pid N: {len(live)} processes run the agent ({pids})")


def cmd_ps(args: argparse.Namespace) -> int:
    import psutil
    from rich.console import Console
    from rich.table import Table

    from tui_perf.agent.client import list_agents

    agents = list_agents()
    if args.clean:  # sockets whose process is gone: a crash or SIGKILL left them
        removed = 0
        for _, path, alive in agents:
            if not alive:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
        print(f"removed {removed} stale socket{'s' * (removed != 1)}")
        agents = [a for a in agents if a[2]]
    table = Table(title=f"tui-perf agents · {len(agents)}", title_justify="left")
    for col in ("pid", "state", "command", "socket"):
        table.add_column(col)
    for pid, path, alive in agents:
        command = "—"
        if alive:
            try:
                command = " ".join(psutil.Process(pid).cmdline())[:60]
            except psutil.Error:
                command = "?"
        table.add_row(
            str(pid), "running" if alive else "[dim]gone (stale socket)[/]", command, str(path)
        )
    if not agents:
        table.caption = (
            "no agents: start one with 'tui-perf run app.py' or "
            "tui_perf.agent.start() in your program"
        )
    Console().print(table)
    return 0


def _log_path(name: str) -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    folder = private_dir(Path(base) / "tui-perf" / "logs")
    # 0600: a program's output is its own business
    return private_file(folder / f"run-{dt.datetime.now():%Y%m%d-%H%M%S}-{name}.log")


def checked_target(given: list[str], missing: str) -> list[str]:
    """A program's command line (`SCRIPT ARGS` or `-m MODULE ARGS`), checked before it runs."""
    target = list(given)
    if target and target[0] == "--":
        target = target[1:]
    if not target:
        raise TuiPerfError(missing)
    if target[0] == "-m":
        if len(target) < 2:
            raise TuiPerfError("-m needs a module name")
    elif not Path(target[0]).is_file():
        raise TuiPerfError(f"no script at {target[0]}")
    return target


def _say_early_exit(code: int, log_path: Path, early: bool = True) -> None:
    """One line for a program that ended before it could be watched, or that failed."""
    if code == 0 and early:
        print(
            f"tui-perf: the program finished before it could be watched; output: {log_path}",
            file=sys.stderr,
        )
        return
    try:
        lines = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        lines = []
    said = f": {lines[-1].strip()[:200]}" if lines else ""
    print(
        f"tui-perf: the program exited with code {code}{said} (output: {log_path})", file=sys.stderr
    )


def cmd_run(args: argparse.Namespace) -> int:
    from tui_perf.agent.server import socket_path_for
    from tui_perf.store.history import check_history_file

    target = checked_target(args.target, "give a script or -m MODULE to run")
    if args.interval <= 0:
        raise TuiPerfError("--interval must be above 0 seconds")
    if args.history is not None:
        check_history_file(args.history)  # before the program starts, not after
    if args.profile != "auto":
        from tui_perf.tune.profiles import load_profile

        load_profile(args.profile)  # a bad name or key: one line now, not a log line later
    if not args.no_dashboard:
        _need_terminal()
    log_path = _log_path(
        target[1].rsplit(".", 1)[-1] if target[0] == "-m" else Path(target[0]).stem
    )
    env = {**os.environ, "TUI_PERF_INTERVAL": str(args.interval)}
    if args.prometheus:
        env["TUI_PERF_PROMETHEUS_PORT"] = str(args.prometheus)
    env["TUI_PERF_TUNE"] = "1" if args.tune else ""
    env["TUI_PERF_PROFILE"] = (
        str(Path(args.profile).resolve()) if args.profile.endswith(".toml") else args.profile
    )
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "tui_perf.agent.bootstrap", *target],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
        )
    print(f"tui-perf: pid {child.pid}; its output goes to {log_path}", file=sys.stderr)
    path = socket_path_for(child.pid)
    deadline = time.monotonic() + 15
    while not path.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if not path.exists():
        code = child.poll()
        if code is not None:  # it finished (or failed) before we could attach: its code
            _say_early_exit(code, log_path)
            return code if code >= 0 else 128 - code
        child.kill()
        raise TuiPerfError(f"the agent did not start within 15 s; see {log_path}")
    from tui_perf.agent.client import RemoteSource

    source = RemoteSource(str(path), child=child)
    app = None
    try:
        if args.no_dashboard:
            asyncio.run(_record(source, args.history))
        else:
            from tui_perf.dashboard.app import Dashboard
            from tui_perf.model.paths import default_history_path

            source.description = f"pid {child.pid} · {' '.join(target)[:40]} · log {log_path}"
            history = None if args.no_history else (args.history or default_history_path())
            app = Dashboard(source, history_path=history, show_widget_stats=args.internals)
            app.run()
            if not app.stop_target and child.poll() is None:
                print(
                    f"tui-perf: left pid {child.pid} running; its output goes to {log_path}; "
                    f"'tui-perf attach {child.pid}' watches it again",
                    file=sys.stderr,
                )
                return 0
    finally:
        if child.poll() is None and (app is None or app.stop_target):
            child.send_signal(signal.SIGINT)
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    if child.returncode > 0:
        _say_early_exit(child.returncode, log_path, early=False)
    return child.returncode if child.returncode >= 0 else 128 - child.returncode


async def _record(source: Any, history: Path | None) -> None:
    from tui_perf.store.history import HistoryStore

    source.on_status = lambda text: print(f"tui-perf: {text}", file=sys.stderr)
    async with await HistoryStore.open(history) as store:
        async for snap in source.snapshots():
            await store.add_snapshot(snap)
        print(f"tui-perf: history kept in {store.path}", file=sys.stderr)
