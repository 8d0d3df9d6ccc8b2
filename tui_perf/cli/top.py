"""`tui-perf top`: one screen over many processes; Enter opens one, Escape comes back."""

from __future__ import annotations

import argparse
from typing import Any

from tui_perf.model.errors import ConfigError


def add_parser(sub: Any) -> None:
    from tui_perf.views.fleet import SORTS

    p = sub.add_parser(
        "top",
        help="one live row per process with an agent: this user's, and any HOST:PORT",
        description="One live row per process: pid, command, memory tier, RSS and its trend, "
        "CPU, time in GC, the worst cache hit rate, pool health, the advisor's worst finding, "
        "and a status (lost while reconnecting, gone once the process exited). This user's "
        "agents are found by themselves, and looked for again every few seconds. Keys: s "
        "cycles the sort, r reverses it, Enter opens the full dashboard on a process "
        "(Escape there comes back), q quits.",
    )
    p.add_argument(
        "addresses",
        nargs="*",
        metavar="HOST:PORT",
        help="agents on other machines (started with tcp=(host, port) and a token)",
    )
    p.add_argument("--token", help="the token of the HOST:PORT agents")
    p.add_argument(
        "--no-local",
        action="store_true",
        help="only the HOST:PORT given, not this user's agents",
    )
    p.add_argument("--sort", choices=SORTS, default="tier", help="the first sort (default: tier)")


def cmd_top(args: argparse.Namespace) -> int:
    from tui_perf.agent.client import RemoteSource, parse_address
    from tui_perf.cli.agent import _need_terminal
    from tui_perf.dashboard.fleet import Fleet
    from tui_perf.dashboard.top import TopApp

    for address in args.addresses:
        kind, _ = parse_address(address)  # one line for nonsense, before the screen opens
        if kind == "tcp" and not args.token:
            raise ConfigError(f"{address}: an agent on TCP needs its token: pass --token")
    if args.no_local and not args.addresses:
        raise ConfigError("--no-local with no HOST:PORT leaves nothing to watch")
    _need_terminal()
    sort, reverse, chosen = args.sort, False, None
    trends: dict[str, Any] = {}
    while True:
        fleet = Fleet(
            tuple(args.addresses), token=args.token, discover=not args.no_local, trends=trends
        )
        top = TopApp(fleet, sort=sort, select=chosen)
        top.reverse = reverse
        chosen = top.run()
        # what the list had learned goes on: the sort, the trends, the row picked
        sort, reverse = top.sort, top.reverse
        trends = {address: m.rss for address, m in fleet.members.items()}
        if not chosen:
            return 0
        from tui_perf.dashboard.app import Dashboard

        dashboard = Dashboard(
            RemoteSource(chosen, token=args.token), history_path=None, back_to="top"
        )
        dashboard.run()
        if not dashboard.went_back:
            return 0
