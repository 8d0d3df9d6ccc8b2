"""`tui-perf replay`: the dashboard over a recorded session, stepped from the keyboard."""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tui_perf.model.errors import ConfigError

_RELATIVE = re.compile(r"^-(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M")
WHEN_HELP = "HH:MM[:SS], 'YYYY-MM-DD HH:MM[:SS]', or -30s / -10m / -2h / -1d from the end"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "replay",
        help="open the dashboard over a recorded session",
        description="Open the dashboard over a session kept in the history file, at its end. "
        "Keys: , and . step a frame back and forward, [ and ] jump to the previous and next "
        "event, space plays and pauses, x cycles 1x/10x/60x. Every pane shows the moment at "
        "the cursor; keys that act on a process are off.",
    )
    p.add_argument("file", nargs="?", type=Path, help="history file (default: the user's)")
    p.add_argument("--pid", type=int, help="the process to replay (default: the latest one)")
    p.add_argument("--from", dest="start", metavar="T", help=f"start at T: {WHEN_HELP}")
    p.add_argument("--to", dest="end", metavar="T", help=f"end at T: {WHEN_HELP}")


def glue_times(argv: list[str]) -> list[str]:
    """`--from -2h` as `--from=-2h`: argparse takes a value that starts with "-" (and is not a
    plain number) for an option of its own."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in ("--from", "--to") and i + 1 < len(argv) and _RELATIVE.match(argv[i + 1]):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def parse_when(text: str, last: float, option: str) -> float:
    """A time the user typed, as a timestamp; relative ones count back from `last`."""
    text = text.strip()
    m = _RELATIVE.match(text)
    if m:
        return last - float(m.group(1)) * _UNITS[m.group(2)]
    for fmt in _FORMATS:
        try:
            return datetime.strptime(text, fmt).timestamp()
        except ValueError:
            pass
    for fmt in ("%H:%M:%S", "%H:%M"):
        try:
            clock = datetime.strptime(text, fmt).time()
        except ValueError:
            continue
        # the last such moment at or before the recording's end
        end = datetime.fromtimestamp(last)
        moment = datetime.combine(end.date(), clock)
        if moment > end:
            moment -= timedelta(days=1)
        return moment.timestamp()
    raise ConfigError(f"{option}: {text!r} is not a time; use {WHEN_HELP}")


def cmd_replay(args: argparse.Namespace) -> int:
    from tui_perf.dashboard.replay import ReplaySource
    from tui_perf.model.paths import default_history_path
    from tui_perf.store.recording import Recording

    path = args.file or default_history_path()
    start = end = None
    if args.start or args.end:
        whole = Recording.open(path, pid=args.pid)  # to learn when the recording ends
        last = whole.process.last
        whole.close()
        start = parse_when(args.start, last, "--from") if args.start else None
        end = parse_when(args.end, last, "--to") if args.end else None
        if start is not None and end is not None and start >= end:
            raise ConfigError("--from must come before --to")
    recording = Recording.open(path, pid=args.pid, start=start, end=end)
    from tui_perf.cli.agent import _need_terminal
    from tui_perf.dashboard.app import Dashboard

    _need_terminal()

    Dashboard(ReplaySource(recording), history_path=None).run()
    return 0
