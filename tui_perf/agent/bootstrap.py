"""`python -m tui_perf.agent.bootstrap SCRIPT [ARGS]` or `... -m MODULE [ARGS]`.

What `tui-perf run` starts: the agent first, then the user's program as `__main__`, with
`sys.argv` as the program expects. If the agent cannot start, the program runs anyway.
"""

from __future__ import annotations

import logging
import os
import runpy
import sys


def main() -> None:
    args = sys.argv[1:]
    if not args:
        sys.exit("usage: python -m tui_perf.agent.bootstrap SCRIPT [ARGS] | -m MODULE [ARGS]")
    try:
        from tui_perf.agent import start

        port = os.environ.get("TUI_PERF_PROMETHEUS_PORT")
        start(
            socket_path=os.environ.get("TUI_PERF_AGENT_SOCKET") or None,
            interval=float(os.environ.get("TUI_PERF_INTERVAL", "1")),
            prometheus_port=int(port) if port else None,
            tune=bool(os.environ.get("TUI_PERF_TUNE")),
            profile=os.environ.get("TUI_PERF_PROFILE") or "auto",
        )
    except Exception:  # the program matters more than its monitor
        logging.getLogger("tui_perf.agent").warning("tui-perf agent did not start", exc_info=True)
    run_program(args)


def run_program(args: list[str]) -> None:
    """Run `SCRIPT ARGS` or `-m MODULE ARGS` as `__main__`, with the `sys.argv` it expects."""
    if args[0] == "-m":
        # as `python -m`: the current folder first on the path, so a package there is
        # found (under `tui-perf profile` the path starts with tui-perf's own folder)
        cwd = os.getcwd()
        if not sys.path or sys.path[0] not in ("", cwd):
            sys.path.insert(0, cwd)
        if not _module_exists(args[1]):  # as `python -m` says it, not a runpy traceback
            print(f"No module named {args[1]!r}", file=sys.stderr)
            sys.exit(1)
        sys.argv = args[1:]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = args
        sys.path.insert(0, os.path.dirname(os.path.abspath(args[0])))
        runpy.run_path(args[0], run_name="__main__")


def _module_exists(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package that is missing, or a bad name
        return False


if __name__ == "__main__":
    main()
