"""`tui-perf advise`: the advisor's findings for a process running the agent, headless.

Exit 0 with nothing critical, 1 when a critical finding exists (for health checks and CI),
2 for bad input or no agent. `--json` prints the advice section as the snapshot carries it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from tui_perf.advice.report import report_lines
from tui_perf.model.advice import AdviceStats
from tui_perf.model.decoding import decode
from tui_perf.model.errors import TuiPerfError

EXIT_CRITICAL = 1


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "advise",
        help="print measured findings for a process running the agent (exit 1 if critical)",
        description="Ask a process's agent for the advisor's findings: each with the figures "
        "it rests on, the command that acts on it, and how its estimate was made. Exits 1 "
        "when a finding is critical, for health checks and CI.",
    )
    p.add_argument(
        "--pid", type=int, help="the process to ask (default: the one process running the agent)"
    )
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="S",
        help="let the agent's window fill for S seconds first (rules need 30 s of snapshots)",
    )


def cmd_advise(args: argparse.Namespace) -> int:
    from tui_perf.cli.agent import agent_of

    if args.pid is not None and args.pid <= 0:
        raise TuiPerfError(f"--pid must be a positive process id, got {args.pid}")
    if not 0 <= args.wait <= 3600:
        raise TuiPerfError(f"--wait must be 0 to 3600 seconds, got {args.wait}")
    path = agent_of(args.pid)
    if path is None:
        raise TuiPerfError(f"no agent for pid {args.pid} (see 'tui-perf ps')")
    raw = asyncio.run(_ask(str(path), args.wait))
    try:
        stats = decode(AdviceStats, raw, "advice")
    except TuiPerfError as exc:
        raise TuiPerfError(f"the agent's advice did not read: {exc}") from exc
    if args.json:
        print(json.dumps(raw, indent=2))
    else:
        print("\n".join(report_lines(stats)))
    return exit_code(stats)


def exit_code(stats: AdviceStats) -> int:
    """1 when a finding is critical (a health check fails), else 0."""
    return EXIT_CRITICAL if any(f.severity == "critical" for f in stats.findings) else 0


async def _ask(path: str, wait: float) -> dict[str, Any]:
    from tui_perf.agent.client import RemoteSource

    source = RemoteSource(path, reconnect=False)
    snaps = source.snapshots()
    try:
        try:
            await asyncio.wait_for(snaps.__anext__(), 10)
        except (StopAsyncIteration, TimeoutError) as exc:
            raise TuiPerfError(f"the agent at {path} did not answer") from exc
        if wait:
            await asyncio.sleep(wait)
        return await source.command("advise")
    finally:
        await source.close()
