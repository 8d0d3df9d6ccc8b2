"""`tui-perf serve`: the dashboard in a browser, through textual-serve."""

from __future__ import annotations

import argparse
import secrets
import shlex
import socket
import sys
from typing import Any

from tui_perf.model.errors import ConfigError

#: what may follow `serve`: the dashboards a tab can run
SERVABLE = ("attach", "run", "replay", "top", "watch")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="the dashboard in a browser (textual-serve)",
        description="Serve the dashboard to a browser. Each browser tab runs its own "
        "'tui-perf [COMMAND ...]': the demo by default, or 'attach PID', 'replay FILE', "
        "'top'; with 'run app.py' each tab starts its own copy of the program (to share "
        "one, run it once and serve 'attach'). Bound to 127.0.0.1 unless --host says "
        "otherwise. The URL printed at start carries a token, on loopback too, and without "
        "it nothing is served. Needs the web extra: pip install 'tui-perf[web]'.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--public-url",
        metavar="URL",
        help="the URL browsers reach this server at, when it differs from HOST:PORT "
        "(behind a proxy, or bound to 0.0.0.0)",
    )
    p.add_argument(
        "--max-tabs",
        type=int,
        default=None,
        metavar="N",
        help="browser tabs open at once, each its own process (default 4)",
    )
    p.add_argument(
        "tab",
        nargs=argparse.REMAINDER,
        metavar="COMMAND",
        help=f"what each tab runs: {', '.join(SERVABLE)} and their arguments",
    )


def tab_command(rest: list[str]) -> str:
    """The shell command textual-serve starts for each tab."""
    if rest and rest[0] not in SERVABLE and not rest[0].startswith("-"):
        raise ConfigError(f"serve: {rest[0]!r} cannot be served; one of {', '.join(SERVABLE)}")
    return shlex.join([sys.executable, "-m", "tui_perf", *rest])


def check_port(host: str, port: int) -> None:
    if not 0 < port < 65536:
        raise ConfigError(f"--port {port} is not a port (1-65535)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from exc


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from tui_perf.dashboard.web import DEFAULT_MAX_TABS, GuardedServer
    except ImportError as exc:
        raise ConfigError(
            "the browser view needs textual-serve: pip install 'tui-perf[web]'"
        ) from exc
    command = tab_command(list(args.tab))
    max_tabs = DEFAULT_MAX_TABS if args.max_tabs is None else args.max_tabs
    if max_tabs < 1:
        raise ConfigError(f"--max-tabs {max_tabs}: at least 1")
    check_port(args.host, args.port)
    # on loopback too: any user of this machine can reach 127.0.0.1
    token = secrets.token_urlsafe(18)
    public = args.public_url or f"http://{_url_host(args.host)}:{args.port}"
    server = GuardedServer(
        command,
        token=token,
        max_tabs=max_tabs,
        host=args.host,
        port=args.port,
        title="tui-perf",
        public_url=public.rstrip("/"),
    )
    what = " ".join(["tui-perf", *args.tab]) if args.tab else "tui-perf (the demo)"
    url = f"{public.rstrip('/')}/?token={token}"
    print(
        f"serving {what} at {url}  (each browser tab runs its own, {max_tabs} at most; "
        "Ctrl+C stops)",
        flush=True,
    )
    print("anyone with this URL can act on the watched process; without it nothing is served")
    server.serve()
    return 0


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host
