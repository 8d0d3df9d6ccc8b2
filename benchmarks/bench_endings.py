"""What each way of ending a process keeps of a write-behind queue: rows promised vs found.

A child queues 450 writes behind a write-behind cache over a SQLite file (batch size and
flush interval large, so all 450 are still queued), says "ready", and is then ended: normal
exit, the cache dropped then exit, SIGINT, SIGTERM, SIGKILL. The parent counts the rows.

    python benchmarks/bench_endings.py
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUEUED = 450

CHILD = """
import gc, sys, time
from tui_perf import MultiLevelCache, SQLiteTier
cache = MultiLevelCache("e", l2=SQLiteTier(sys.argv[1]), write_behind=True,
                        batch_size=10_000, flush_interval=3600, max_pending=10_000)
for i in range({n}):
    cache.set(i, i)
how = sys.argv[2]
print("ready", flush=True)
if how == "exit":
    sys.exit(0)
if how == "dropped":
    del cache
    gc.collect()
    sys.exit(0)
time.sleep(60)
"""

ENDINGS = {
    "normal exit": ("exit", None),
    "cache dropped, then exit": ("dropped", None),
    "SIGINT (Ctrl-C)": ("wait", signal.SIGINT),
    "SIGTERM (kill, docker stop, systemctl stop)": ("wait", signal.SIGTERM),
    "SIGKILL": ("wait", signal.SIGKILL),
}


def rows(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM cache").fetchone()[0])
    except sqlite3.OperationalError:  # the table was never made: nothing was written
        return 0


def end_one(how: str, sig: signal.Signals | None) -> tuple[int, int | None]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "c.db"
        child = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(CHILD.format(n=QUEUED)), str(db), how],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        if sig is not None:
            child.send_signal(sig)
        code = child.wait(30)
        return rows(db), code


def main() -> None:
    print(
        "| ending | rows promised (README) | rows found | exit status |\n| --- | --- | --- | --- |"
    )
    for label, (how, sig) in ENDINGS.items():
        found, code = end_one(how, sig)
        # the README's promise: only SIGKILL (or a crash) may lose the queue
        promised = 0 if sig == signal.SIGKILL else QUEUED
        print(f"| {label} | {promised} | {found} | {code} |")


if __name__ == "__main__":
    main()
