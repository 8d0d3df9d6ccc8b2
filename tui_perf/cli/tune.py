"""`tui-perf tune report` (the tuner's trials, from the history file) and `tui-perf profiles`
(the tuning profiles, and what `auto` would pick on this machine)."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from tui_perf.cli.parser import add_history_option
from tui_perf.model.errors import TuiPerfError

VERDICTS = ("kept", "rolled back", "abandoned")


def add_parsers(sub: Any) -> None:
    tune = sub.add_parser(
        "tune",
        help="the tuner's trials kept in the history file (tune report)",
        description="Print the tuner's trials from the history file: what changed, why, the "
        "figure before and after, and whether it was kept or rolled back.",
    )
    tune_sub = tune.add_subparsers(dest="tune_command", metavar="report", required=True)
    report = tune_sub.add_parser("report", help="print the trials")
    add_history_option(report)
    report.add_argument(
        "--last", type=float, default=7 * 86400.0, metavar="S", help="seconds back (default 7 d)"
    )
    report.add_argument("--json", action="store_true", help="print as JSON")

    profiles = sub.add_parser(
        "profiles",
        help="list the tuning profiles and what auto would pick here",
        description="The shipped tuning profiles and the user's (in the data directory's "
        "profiles.d/), and the profile `auto` picks on this machine, with why.",
    )
    profiles.add_argument("--json", action="store_true", help="print as JSON")


def parse_trial(message: str) -> dict[str, str] | None:
    """A trial event's fields (see `tune.commands.trial_message`); None for other events of
    kind "tune" (the profile chosen, the tuner turned on)."""
    from tui_perf.tune.commands import SEP

    parts = message.split(SEP)
    verdict, _, command = parts[0].partition(": ")
    if verdict not in VERDICTS or len(parts) != 5:
        return None
    return {
        "verdict": verdict,
        "command": command,
        "finding": parts[1].removeprefix("finding "),
        "figure": parts[2],
        "reason": parts[3],
        "undo": parts[4].removeprefix("undo: "),
    }


def cmd_tune(args: argparse.Namespace) -> int:
    from tui_perf.store.history import HistoryStore

    if args.last <= 0:
        raise TuiPerfError(f"--last must be above 0 seconds, got {args.last}")
    if args.history is not None and not args.history.exists():
        raise TuiPerfError(f"no history file at {args.history}")

    async def read() -> list[Any]:
        async with await HistoryStore.open(args.history) as store:
            return [e for e in await store.events(time.time() - args.last) if e.kind == "tune"]

    events = asyncio.run(read())
    rows = []
    for event in events:
        trial = parse_trial(event.message)
        if trial is not None:
            rows.append({"ts": event.timestamp, **trial})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(
            "no trials in the history file: run a program with 'tui-perf run --tune', or "
            "turn the tuner on with t in the dashboard"
        )
        return 0
    for row in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["ts"]))
        print(f"{when}  {row['verdict']:<11}  {row['command']}")
        print(f"  why: {row['finding']}")
        print(f"  {row['figure']}")
        print(f"  {row['reason']}")
    counts = {v: sum(1 for r in rows if r["verdict"] == v) for v in VERDICTS}
    print(", ".join(f"{n} {v}" for v, n in counts.items()))
    return 0


def cmd_profiles(args: argparse.Namespace) -> int:
    from tui_perf.model.format import fmt_bytes
    from tui_perf.tune.profiles import available, load_profile
    from tui_perf.tune.system import choose, probe_system

    system = probe_system()
    picked, why = choose(system)
    rows = []
    for name, path in available().items():
        try:
            p = load_profile(str(path))
            rows.append({"name": name, "file": str(path), "description": p.description})
        except TuiPerfError as exc:  # a user's broken file: named, the others still listed
            rows.append({"name": name, "file": str(path), "error": str(exc)})
    if args.json:
        print(json.dumps({"auto": {"picks": picked, "why": why}, "profiles": rows}, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        mark = "*" if r["name"] == picked else " "
        text = r.get("description") or f"error: {r.get('error')}"
        print(f"{mark} {r['name']:<{width}}  {text}")
    print(
        f"auto picks {picked} here: {why} (memory {fmt_bytes(system.memory_limit)} by "
        f"{system.limited_by}, {system.cores:g} cores; the process's CPU share refines it "
        "after 30 s)"
    )
    return 0
